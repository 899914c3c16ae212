package authserver_test

import (
	"context"
	"crypto"
	"crypto/x509"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/orgscope/orgscope/auth"
	"github.com/orgscope/orgscope/authserver"
)

// BenchmarkTokenEndpoint: client_credentials tokens through the token
// endpoint's handler, one algorithm after the other in one run, on SQLite
// (each token also records the client's use). tokens/s is per goroutine,
// so per core with -cpu 1:
//
//	go test ./authserver -run '^$' -bench 'TokenEndpoint|SignVerify' -benchmem -cpu 1
func BenchmarkTokenEndpoint(b *testing.B) {
	for _, alg := range authserver.SigningAlgorithms {
		b.Run(alg, func(b *testing.B) {
			st := newStore(b)
			s, err := authserver.New(b.Context(), authserver.Options{Issuer: issuer, Resource: resource, Store: st,
				Keys: authserver.KeyOptions{Algorithm: alg}})
			if err != nil {
				b.Fatal(err)
			}
			c, secret, err := createMachineClient(b.Context(), st, machineClient{Name: "bench", Scopes: []string{"read:orgs"}})
			if err != nil {
				b.Fatal(err)
			}
			body := url.Values{"grant_type": {"client_credentials"}, "resource": {resource}}.Encode()
			start := time.Now()
			for b.Loop() {
				req := httptest.NewRequest(http.MethodPost, authserver.TokenPath, strings.NewReader(body))
				req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
				req.SetBasicAuth(c.ID, secret)
				rec := httptest.NewRecorder()
				s.Handler().ServeHTTP(rec, req)
				if rec.Code != http.StatusOK {
					b.Fatalf("token: %d %s", rec.Code, rec.Body)
				}
			}
			b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "tokens/s")
		})
	}
}

// BenchmarkSignVerify: the signature alone — signing an access token's
// claims, and verifying it as the resource server does (a pinned key of
// the published set) — per algorithm.
func BenchmarkSignVerify(b *testing.B) {
	claims := map[string]any{"iss": issuer, "sub": "c1", "aud": resource, "exp": time.Now().Add(time.Hour).Unix(),
		"iat": time.Now().Unix(), "jti": "0b7c4e6a-2f1d-4c3b-9a8e-5d6f7a8b9c0d", "client_id": "c1", "scope": "read:users read:flags",
		"org_code": "org_acme", "gty": []string{"client_credentials"}}
	payload, _ := json.Marshal(claims)
	for _, alg := range authserver.SigningAlgorithms {
		m, err := authserver.NewKeyManager(authserver.KeyOptions{Algorithm: alg})
		if err != nil {
			b.Fatal(err)
		}
		k, err := m.Make()
		if err != nil {
			b.Fatal(err)
		}
		priv, err := x509.ParsePKCS8PrivateKey(k.PrivateKey)
		if err != nil {
			b.Fatal(err)
		}
		signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.SignatureAlgorithm(alg), Key: jose.JSONWebKey{Key: priv, KeyID: k.ID}},
			(&jose.SignerOptions{}).WithType("at+jwt"))
		if err != nil {
			b.Fatal(err)
		}
		sign := func() string {
			jws, err := signer.Sign(payload)
			if err != nil {
				b.Fatal(err)
			}
			token, _ := jws.CompactSerialize()
			return token
		}
		b.Run("sign/"+alg, func(b *testing.B) {
			for b.Loop() {
				sign()
			}
		})
		published := []jose.JSONWebKey{{Key: priv.(crypto.Signer).Public(), KeyID: k.ID, Algorithm: alg, Use: "sig"}}
		keys := &auth.LiveKeySet{Keys: func() []jose.JSONWebKey { return published }}
		token := sign()
		b.Run("verify/"+alg, func(b *testing.B) {
			for b.Loop() {
				if _, err := keys.VerifySignature(context.Background(), token); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Logf("%s token: %d bytes", alg, len(token))
	}
}
