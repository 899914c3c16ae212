# OrgScope in a container: a static binary (CGO off; the SQLite driver is
# pure Go) on a distroless base, running as a non-root user, with the SQLite
# file on a volume. e2e/dockerfile_test.go builds the build stage's command
# line in CI, so this recipe cannot rot unnoticed.
#
#   docker build -t orgscope --build-arg VERSION=v1.0.0 .
#   docker run -p 8080:8080 -v orgscope-data:/data orgscope \
#       --addr 0.0.0.0:8080 --public-url https://mcp.example.com

FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=dev
RUN CGO_ENABLED=0 go build -trimpath -buildvcs=false -ldflags "-s -w -X github.com/orgscope/orgscope/internal/buildinfo.version=${VERSION}" -o /out/orgscope ./cmd/orgscope
# The volume's mount point, owned by the user the server runs as, so that
# a fresh named volume is writable.
RUN mkdir -p /out/data

# distroless/static: CA certificates, tzdata, /etc/passwd with nonroot
# (65532); no shell, no curl — the HEALTHCHECK runs the binary itself.
FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/orgscope /orgscope
COPY --from=build --chown=65532:65532 /out/data /data
USER 65532:65532
ENV ORGSCOPE_ADDR=0.0.0.0:8080 \
    ORGSCOPE_DB=/data/orgscope.db
VOLUME ["/data"]
EXPOSE 8080
HEALTHCHECK --interval=30s --timeout=5s --start-period=10s --retries=3 \
    CMD ["/orgscope", "healthcheck", "http://127.0.0.1:8080/healthz"]
ENTRYPOINT ["/orgscope"]
CMD ["serve"]
