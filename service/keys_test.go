package service_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/orgscope/orgscope/authserver"
	"github.com/orgscope/orgscope/service"
	"github.com/orgscope/orgscope/store"
)

// TestSigningKeyOperations: the operator lists, rotates and retires the
// issuer's keys through the service; each is decided and recorded as
// cli:keys …, and no one but a global principal may.
func TestSigningKeyOperations(t *testing.T) {
	backends(t, func(t *testing.T, st store.Store, _ *service.Service) {
		ctx := t.Context()
		manager, err := authserver.NewKeyManager(authserver.KeyOptions{Algorithm: authserver.ES256, Overlap: time.Minute})
		if err != nil {
			t.Fatal(err)
		}
		first, err := manager.Make()
		if err != nil {
			t.Fatal(err)
		}
		if first, err = st.EnsureSigningKey(ctx, first); err != nil {
			t.Fatal(err)
		}
		svc := service.New(service.Options{Store: st, SigningKeys: manager})
		t.Cleanup(svc.Close)
		cli := func(command string) service.Caller {
			return service.Caller{Principal: service.Operator("ops"), Via: service.ViaCLI, Command: command}
		}
		states := func(keys []service.SigningKeyInfo) string {
			var parts []string
			for _, k := range keys {
				parts = append(parts, fmt.Sprintf("%s:%s:%v", k.KID, k.State, k.Encrypted))
			}
			return strings.Join(parts, " ")
		}

		list, err := svc.ListSigningKeys(ctx, cli("keys list"), service.ListSigningKeysInput{})
		if err != nil || states(list.Keys) != first.ID+":active:false" {
			t.Fatalf("list = %+v, %v", list, err)
		}
		rotated, err := svc.RotateSigningKey(ctx, cli("keys rotate"), service.RotateSigningKeyInput{})
		if err != nil {
			t.Fatal(err)
		}
		next := rotated.Key
		if want := next.KID + ":next:false " + first.ID + ":active:false"; states(rotated.Keys) != want || next.Algorithm != "ES256" ||
			next.SignsFrom.Sub(next.CreatedAt) != time.Minute || rotated.Keys[1].RetireAfter.IsZero() {
			t.Fatalf("rotate = %+v; want %s, signing a minute after it was made, the old key with a retirement", rotated, want)
		}

		_, err = svc.RetireSigningKey(ctx, cli("keys retire"), service.RetireSigningKeyInput{KID: "no-such-kid"})
		var se *service.Error
		if !errors.As(err, &se) || se.Kind != service.KindNotFound || !strings.Contains(se.Message, "no-such-kid") {
			t.Fatalf("retiring an unknown kid: %v", err)
		}
		if _, err = svc.RetireSigningKey(ctx, cli("keys retire"), service.RetireSigningKeyInput{KID: " "}); !errors.As(err, &se) || se.Kind != service.KindInvalid {
			t.Fatalf("retiring no kid: %v", err)
		}
		retired, err := svc.RetireSigningKey(ctx, cli("keys retire"), service.RetireSigningKeyInput{KID: first.ID})
		if err != nil || retired.Retired != first.ID || retired.Successor != next.KID || retired.Made || states(retired.Keys) != next.KID+":active:false" {
			t.Fatalf("retire the active key = %+v, %v; want the next key brought forward", retired, err)
		}

		// An agent's token — even a global one with every scope — may not.
		for _, p := range []service.Caller{acmeCaller()} {
			if _, err := svc.RotateSigningKey(ctx, p, service.RotateSigningKeyInput{}); !errors.As(err, &se) || se.Kind != service.KindDenied {
				t.Errorf("an org-scoped principal rotated the keys: %v", err)
			}
		}
		bare := service.New(service.Options{Store: st})
		t.Cleanup(bare.Close)
		if _, err := bare.RotateSigningKey(ctx, cli("keys rotate"), service.RotateSigningKeyInput{}); err == nil || !strings.Contains(err.Error(), "manages no keys") {
			t.Errorf("rotate without a key manager: %v", err)
		}
		keys, _ := st.SigningKeys(ctx)
		if len(keys) != 1 || keys[0].ID != next.KID {
			t.Fatalf("stored keys after the refusals: %d", len(keys))
		}

		events, _, err := st.ListAuditEvents(ctx, "", store.AuditFilter{}, store.Page{Limit: 50})
		if err != nil {
			t.Fatal(err)
		}
		var trail []string
		for i := len(events) - 1; i >= 0; i-- { // oldest first
			e := events[i]
			trail = append(trail, fmt.Sprintf("%s %s %s/%s/%s", e.Action, e.Target, e.Decision, e.Outcome, e.Reason))
		}
		want := []string{
			"cli:keys list  allow/ok/",
			"cli:keys rotate " + next.KID + " allow/ok/",
			"cli:keys retire no-such-kid allow/error/not_found",
			"cli:keys retire  deny/error/validation",
			"cli:keys retire " + first.ID + " allow/ok/",
			"cli:keys rotate  deny/error/internal",
		}
		if strings.Join(trail, "\n") != strings.Join(want, "\n") {
			t.Errorf("platform audit trail:\n%s\nwant:\n%s", strings.Join(trail, "\n"), strings.Join(want, "\n"))
		}
		denied, _, _ := st.ListAuditEvents(ctx, "org_acme", store.AuditFilter{Action: "tools/call:rotate_signing_key"}, store.Page{})
		if len(denied) != 1 || denied[0].Decision != "deny" || denied[0].Reason != service.ReasonOperatorOnly {
			t.Errorf("the agent's attempt: %+v", denied)
		}
	})
}
