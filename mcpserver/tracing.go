package mcpserver

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"strings"

	"github.com/modelcontextprotocol/go-sdk/jsonrpc"
	"github.com/modelcontextprotocol/go-sdk/mcp"
	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	semconv "go.opentelemetry.io/otel/semconv/v1.41.0"
	"go.opentelemetry.io/otel/trace"

	"github.com/orgscope/orgscope/auth"
	"github.com/orgscope/orgscope/internal/request"
)

// tracerName names the spans this package starts.
const tracerName = "github.com/orgscope/orgscope/mcpserver"

// propagator reads W3C trace context and baggage, from headers and from
// params._meta alike.
var propagator = propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{})

// traced wraps h in a server span per HTTP request (otelhttp), continuing
// a trace from the traceparent header, named after the route.
func traced(tp trace.TracerProvider, h http.Handler) http.Handler {
	return otelhttp.NewHandler(h, "orgscope",
		otelhttp.WithTracerProvider(tp), otelhttp.WithPropagators(propagator),
		otelhttp.WithSpanNameFormatter(func(_ string, r *http.Request) string {
			return r.Method + " " + routeOf(r.URL.Path)
		}))
}

// mcpSpans starts a span per MCP request, named and attributed after the
// OpenTelemetry MCP conventions (mcp.method.name, gen_ai.tool.name,
// mcp.protocol.version, error.type): "tools/call whoami". A traceparent in
// params._meta (the MCP convention) is its parent, linked to the HTTP span;
// otherwise the HTTP span is. The caller's identity goes in as attributes —
// client, org, subject, actor chain — never a token.
func mcpSpans(tp trace.TracerProvider) mcp.Middleware {
	tracer := tp.Tracer(tracerName)
	return func(next mcp.MethodHandler) mcp.MethodHandler {
		return func(ctx context.Context, method string, req mcp.Request) (mcp.Result, error) {
			if !trace.SpanFromContext(ctx).IsRecording() {
				return next(ctx, method, req)
			}
			name, tool := method, ""
			attrs := []attribute.KeyValue{semconv.McpMethodNameKey.String(method)}
			if p, ok := req.GetParams().(*mcp.CallToolParamsRaw); ok && p != nil {
				name, tool = method+" "+p.Name, p.Name
				attrs = append(attrs, semconv.GenAIToolName(tool), semconv.GenAIOperationNameExecuteTool)
			}
			if id, ok := requestID(ctx, method, tool); ok {
				attrs = append(attrs, semconv.JSONRPCRequestID(id))
			}
			var p *auth.Principal
			if extra := req.GetExtra(); extra != nil {
				if v := extra.Header.Get("Mcp-Protocol-Version"); v != "" {
					attrs = append(attrs, semconv.McpProtocolVersion(v))
				}
				p, _ = auth.PrincipalFrom(extra.TokenInfo)
			}
			if p != nil {
				attrs = append(attrs, attribute.String("orgscope.client_id", p.ClientID),
					attribute.String("orgscope.org_code", p.OrgCode), attribute.String("orgscope.subject", p.Subject))
				if len(p.ActorChain) > 0 {
					attrs = append(attrs, attribute.StringSlice("orgscope.actor_chain", p.ActorChain))
				}
			}
			opts := []trace.SpanStartOption{trace.WithSpanKind(trace.SpanKindServer), trace.WithAttributes(attrs...)}
			parent := ctx
			if meta := metaCarrier(req); len(meta) > 0 {
				if remote := propagator.Extract(ctx, meta); trace.SpanContextFromContext(remote).IsRemote() {
					opts = append(opts, trace.WithLinks(trace.Link{SpanContext: trace.SpanContextFromContext(ctx)}))
					parent = remote
				}
			}
			ctx, span := tracer.Start(parent, name, opts...)
			defer span.End()
			res, err := next(ctx, method, req)
			errType := ""
			var wire *jsonrpc.Error
			switch {
			case errors.As(err, &wire):
				errType = strconv.FormatInt(wire.Code, 10)
				span.SetAttributes(semconv.RPCResponseStatusCode(errType))
			case err != nil:
				errType = "_OTHER"
			default:
				if r, ok := res.(*mcp.CallToolResult); ok && r.IsError {
					errType = "tool_error"
				}
			}
			if errType != "" {
				span.SetAttributes(semconv.ErrorTypeKey.String(errType))
				span.SetStatus(codes.Error, errType)
			}
			return res, err
		}
	}
}

// requestID is the JSON-RPC id of the call being served. The go-sdk does
// not tell its middleware (and sees a placeholder id anyway, see rpc.go),
// so it is read from the request's record: the one call with this method
// and tool, when there is exactly one.
func requestID(ctx context.Context, method, tool string) (string, bool) {
	rec := request.From(ctx)
	if rec == nil {
		return "", false
	}
	id, n := "", 0
	for _, c := range rec.Calls {
		if c.Method == method && c.Tool == tool && c.ID != "" {
			id, n = c.ID, n+1
		}
	}
	return id, n == 1
}

// metaCarrier returns the W3C trace context of a request's params._meta.
func metaCarrier(req mcp.Request) propagation.MapCarrier {
	params := req.GetParams()
	if params == nil {
		return nil
	}
	meta := params.GetMeta()
	carrier := propagation.MapCarrier{}
	for _, k := range []string{"traceparent", "tracestate", "baggage"} {
		if v, ok := meta[k].(string); ok && !strings.ContainsAny(v, "\r\n") {
			carrier[k] = v
		}
	}
	return carrier
}
