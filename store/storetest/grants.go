package storetest

import (
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/orgscope/orgscope/store"
)

var grantTests = []test{
	{"AuthRequestLifecycle", testAuthRequestLifecycle},
	{"AuthCodeRedeem", testAuthCodeRedeem},
	{"GrantRevoke", testGrantRevoke},
	{"RefreshRotateChain", testRefreshRotateChain},
	{"RefreshRotateRefused", testRefreshRotateRefused},
	{"RefreshRotateConcurrent", testRefreshRotateConcurrent},
	{"RefreshRotateReuseWindow", testRefreshRotateReuseWindow},
	{"DenylistRevokeToken", testDenylistRevokeToken},
	{"DenylistClientCutoff", testDenylistClientCutoff},
	{"DeleteExpired", testDeleteExpired},
}

func createGrant(t *testing.T, s store.Store, id string) store.Grant {
	t.Helper()
	g := store.Grant{ID: id, ClientID: "dcr_1", OrgCode: "org_a", UserID: "usr_1", Scopes: []string{"read:users"}, Resource: "https://mcp.example/mcp", CreatedAt: past}
	ok(t, s.CreateGrant(t.Context(), g), "CreateGrant "+id)
	return g
}

func createToken(t *testing.T, s store.Store, hash, grantID string, expires time.Time) store.RefreshToken {
	t.Helper()
	rt := store.RefreshToken{TokenHash: hash, GrantID: grantID, CreatedAt: past, ExpiresAt: expires}
	ok(t, s.CreateRefreshToken(t.Context(), rt), "CreateRefreshToken "+hash)
	return rt
}

func getGrant(t *testing.T, s store.Store, id string) store.Grant {
	t.Helper()
	g, err := s.GetGrant(t.Context(), id)
	ok(t, err, "GetGrant "+id)
	return g
}

func lookupToken(t *testing.T, s store.Store, hash string) store.RefreshToken {
	t.Helper()
	rt, _, err := s.LookupRefreshToken(t.Context(), hash)
	ok(t, err, "LookupRefreshToken "+hash)
	return rt
}

func testAuthRequestLifecycle(t *testing.T, s store.Store) {
	ctx := t.Context()
	req := store.AuthRequest{
		HandleHash:          "handle-1",
		ClientID:            "dcr_1",
		RedirectURI:         "http://127.0.0.1:9999/cb",
		State:               "xyz",
		Scopes:              []string{"read:users", "write:flags"},
		Resource:            "https://mcp.example/mcp",
		CodeChallenge:       "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
		CodeChallengeMethod: "S256",
		CSRFHash:            "csrf-1",
		CreatedAt:           past,
		ExpiresAt:           future,
	}
	ok(t, s.CreateAuthRequest(ctx, req), "CreateAuthRequest")
	got, err := s.GetAuthRequest(ctx, "handle-1")
	ok(t, err, "GetAuthRequest")
	equal(t, "GetAuthRequest", got, req)
	wantErr(t, s.CreateAuthRequest(ctx, store.AuthRequest{HandleHash: "handle-1"}), store.ErrConflict, "CreateAuthRequest duplicate")

	ok(t, s.SetAuthRequestUser(ctx, "handle-1", "org_a", "usr_1"), "SetAuthRequestUser")
	req.OrgCode, req.UserID = "org_a", "usr_1"
	got, err = s.GetAuthRequest(ctx, "handle-1")
	ok(t, err, "GetAuthRequest")
	equal(t, "request after sign-in", got, req)
	wantErr(t, s.SetAuthRequestUser(ctx, "nope", "org_a", "usr_1"), store.ErrNotFound, "SetAuthRequestUser unknown")

	got, err = s.ConsumeAuthRequest(ctx, "handle-1")
	ok(t, err, "ConsumeAuthRequest")
	equal(t, "consumed request", got, req)
	_, err = s.ConsumeAuthRequest(ctx, "handle-1")
	wantErr(t, err, store.ErrNotFound, "ConsumeAuthRequest again")
	_, err = s.GetAuthRequest(ctx, "handle-1")
	wantErr(t, err, store.ErrNotFound, "GetAuthRequest after consume")

	fresh := store.AuthRequest{HandleHash: "handle-2", ExpiresAt: future}
	ok(t, s.CreateAuthRequest(ctx, fresh), "CreateAuthRequest")
	got, err = s.GetAuthRequest(ctx, "handle-2")
	ok(t, err, "GetAuthRequest")
	if !isStamped(got.CreatedAt) {
		t.Fatalf("CreatedAt %v not set", got.CreatedAt)
	}
}

func testAuthCodeRedeem(t *testing.T, s store.Store) {
	ctx := t.Context()
	code := store.AuthCode{
		CodeHash:      "code-1",
		ClientID:      "dcr_1",
		OrgCode:       "org_a",
		UserID:        "usr_1",
		RedirectURI:   "http://127.0.0.1:9999/cb",
		Resource:      "https://mcp.example/mcp",
		Scopes:        []string{"read:users"},
		CodeChallenge: "challenge",
		CreatedAt:     past,
		ExpiresAt:     future,
	}
	ok(t, s.CreateAuthCode(ctx, code), "CreateAuthCode")
	wantErr(t, s.CreateAuthCode(ctx, store.AuthCode{CodeHash: "code-1"}), store.ErrConflict, "CreateAuthCode duplicate")

	got, err := s.RedeemAuthCode(ctx, "code-1", "grt_first")
	ok(t, err, "RedeemAuthCode")
	if !isStamped(got.UsedAt) {
		t.Fatalf("UsedAt %v not set", got.UsedAt)
	}
	code.UsedAt, code.GrantID = got.UsedAt, "grt_first"
	equal(t, "redeemed code", got, code)
	grant := createGrant(t, s, "grt_first")
	other := createGrant(t, s, "grt_other")

	// The replay revokes the grant of the first redemption, not the one it names.
	_, err = s.RedeemAuthCode(ctx, "code-1", "grt_other")
	wantErr(t, err, store.ErrReplayed, "RedeemAuthCode again")
	revoked := getGrant(t, s, "grt_first")
	if !revoked.Revoked() || !isStamped(revoked.RevokedAt) {
		t.Fatalf("grant of a replayed code not revoked: %+v", revoked)
	}
	grant.RevokedAt = revoked.RevokedAt
	equal(t, "revoked grant", revoked, grant)
	equal(t, "grant named by the replay", getGrant(t, s, "grt_other"), other)

	_, err = s.RedeemAuthCode(ctx, "code-1", "grt_third")
	wantErr(t, err, store.ErrReplayed, "RedeemAuthCode a third time")
	equal(t, "grant after a second replay", getGrant(t, s, "grt_first"), grant)

	_, err = s.RedeemAuthCode(ctx, "nope", "grt_x")
	wantErr(t, err, store.ErrNotFound, "RedeemAuthCode unknown")
}

func testGrantRevoke(t *testing.T, s store.Store) {
	ctx := t.Context()
	g := createGrant(t, s, "grt_1")
	equal(t, "GetGrant", getGrant(t, s, "grt_1"), g)
	wantErr(t, s.CreateGrant(ctx, store.Grant{ID: "grt_1"}), store.ErrConflict, "CreateGrant duplicate")
	equal(t, "grant after refused duplicate", getGrant(t, s, "grt_1"), g)
	_, err := s.GetGrant(ctx, "nope")
	wantErr(t, err, store.ErrNotFound, "GetGrant unknown")
	createGrant(t, s, "grt_active")

	ok(t, s.RevokeGrant(ctx, "grt_1"), "RevokeGrant")
	revoked := getGrant(t, s, "grt_1")
	if !isStamped(revoked.RevokedAt) {
		t.Fatalf("RevokedAt %v not set", revoked.RevokedAt)
	}
	ok(t, s.RevokeGrant(ctx, "grt_1"), "RevokeGrant again")
	equal(t, "grant after a second revoke", getGrant(t, s, "grt_1"), revoked)
	wantErr(t, s.RevokeGrant(ctx, "nope"), store.ErrNotFound, "RevokeGrant unknown")
	equal(t, "grant never revoked", getGrant(t, s, "grt_active").Revoked(), false)
}

func testRefreshRotateChain(t *testing.T, s store.Store) {
	ctx := t.Context()
	g := createGrant(t, s, "grt_1")
	t1 := createToken(t, s, "t1", "grt_1", future)
	rt, grant, err := s.LookupRefreshToken(ctx, "t1")
	ok(t, err, "LookupRefreshToken")
	equal(t, "looked-up token", rt, t1)
	equal(t, "looked-up grant", grant, g)

	// next.GrantID is forced to the old token's grant.
	got, err := s.RotateRefreshToken(ctx, "t1", store.RefreshToken{TokenHash: "t2", GrantID: "grt_forged", ExpiresAt: future}, 0)
	ok(t, err, "RotateRefreshToken t1")
	equal(t, "grant of the rotation", got, g)
	got, err = s.RotateRefreshToken(ctx, "t2", store.RefreshToken{TokenHash: "t3", CreatedAt: past, ExpiresAt: future}, 0)
	ok(t, err, "RotateRefreshToken t2")
	equal(t, "grant of the second rotation", got, g)

	old := lookupToken(t, s, "t1")
	if !isStamped(old.RotatedAt) {
		t.Fatalf("t1 RotatedAt %v not set", old.RotatedAt)
	}
	t1.RotatedAt = old.RotatedAt
	equal(t, "rotated t1", old, t1)
	t2 := lookupToken(t, s, "t2")
	if t2.GrantID != "grt_1" || !isStamped(t2.CreatedAt) || !isStamped(t2.RotatedAt) || !t2.ExpiresAt.Equal(future) {
		t.Fatalf("t2 = %+v", t2)
	}
	equal(t, "current t3", lookupToken(t, s, "t3"), store.RefreshToken{TokenHash: "t3", GrantID: "grt_1", CreatedAt: past, ExpiresAt: future})

	// Replaying t1 revokes the grant; then even the current token is dead.
	_, err = s.RotateRefreshToken(ctx, "t1", store.RefreshToken{TokenHash: "t_replay", ExpiresAt: future}, 0)
	wantErr(t, err, store.ErrReplayed, "RotateRefreshToken replay of t1")
	if !getGrant(t, s, "grt_1").Revoked() {
		t.Fatal("grant not revoked after a replay")
	}
	_, _, err = s.LookupRefreshToken(ctx, "t_replay")
	wantErr(t, err, store.ErrNotFound, "LookupRefreshToken of the replay's next token")
	_, err = s.RotateRefreshToken(ctx, "t3", store.RefreshToken{TokenHash: "t4", ExpiresAt: future}, 0)
	wantErr(t, err, store.ErrNotFound, "RotateRefreshToken t3 of a revoked grant")
	_, _, err = s.LookupRefreshToken(ctx, "t4")
	wantErr(t, err, store.ErrNotFound, "LookupRefreshToken t4")
	equal(t, "t3 after the refused rotation", lookupToken(t, s, "t3").RotatedAt, time.Time{})
}

func testRefreshRotateRefused(t *testing.T, s store.Store) {
	ctx := t.Context()
	active := createGrant(t, s, "grt_active")
	createGrant(t, s, "grt_revoked")
	ok(t, s.RevokeGrant(ctx, "grt_revoked"), "RevokeGrant")
	expired := createToken(t, s, "expired", "grt_active", past.Add(time.Hour))
	ofRevoked := createToken(t, s, "of_revoked", "grt_revoked", future)
	live := createToken(t, s, "live", "grt_active", future)
	createToken(t, s, "taken", "grt_active", future)

	for _, c := range []struct {
		name, old, next string
		err             error
		unchanged       store.RefreshToken
	}{
		{"unknown token", "nope", "n1", store.ErrNotFound, store.RefreshToken{}},
		{"expired token", "expired", "n2", store.ErrNotFound, expired},
		{"token of a revoked grant", "of_revoked", "n3", store.ErrNotFound, ofRevoked},
		{"next hash taken", "live", "taken", store.ErrConflict, live},
	} {
		_, err := s.RotateRefreshToken(ctx, c.old, store.RefreshToken{TokenHash: c.next, ExpiresAt: future}, time.Minute)
		wantErr(t, err, c.err, "RotateRefreshToken "+c.name)
		if c.unchanged.TokenHash != "" {
			equal(t, c.name+": old token", lookupToken(t, s, c.old), c.unchanged)
		}
		if c.next != "taken" {
			_, _, err = s.LookupRefreshToken(ctx, c.next)
			wantErr(t, err, store.ErrNotFound, c.name+": next token stored")
		}
	}
	equal(t, "grant after refused rotations", getGrant(t, s, "grt_active"), active)

	err := s.CreateRefreshToken(ctx, store.RefreshToken{TokenHash: "orphan", GrantID: "grt_nope", ExpiresAt: future})
	wantErr(t, err, store.ErrNotFound, "CreateRefreshToken of a missing grant")
	_, _, err = s.LookupRefreshToken(ctx, "orphan")
	wantErr(t, err, store.ErrNotFound, "LookupRefreshToken orphan")
	err = s.CreateRefreshToken(ctx, store.RefreshToken{TokenHash: "live", GrantID: "grt_active", ExpiresAt: future})
	wantErr(t, err, store.ErrConflict, "CreateRefreshToken duplicate")
	equal(t, "token after refused duplicate", lookupToken(t, s, "live"), live)
}

// testRefreshRotateConcurrent presents one token eight times at once:
// exactly one rotation succeeds; the others see a rotated token (a replay)
// or, once a replay has revoked the grant, a dead one.
func testRefreshRotateConcurrent(t *testing.T, s store.Store) {
	createGrant(t, s, "grt_1")
	createToken(t, s, "t1", "grt_1", future)
	const racers = 8
	errs := make([]error, racers)
	var wg sync.WaitGroup
	for i := range racers {
		wg.Go(func() {
			_, errs[i] = s.RotateRefreshToken(t.Context(), "t1", store.RefreshToken{TokenHash: fmt.Sprintf("next%d", i), ExpiresAt: future}, 0)
		})
	}
	wg.Wait()

	var won, replayed int
	for i, err := range errs {
		switch {
		case err == nil:
			won++
		case errors.Is(err, store.ErrReplayed):
			replayed++
		case !errors.Is(err, store.ErrNotFound):
			t.Fatalf("racer %d: %v", i, err)
		}
	}
	if won != 1 || replayed == 0 {
		t.Fatalf("%d rotations succeeded and %d saw a replay: want 1 and at least 1 (errors %v)", won, replayed, errs)
	}
	stored := 0
	for i := range racers {
		if _, _, err := s.LookupRefreshToken(t.Context(), fmt.Sprintf("next%d", i)); err == nil {
			stored++
		}
	}
	equal(t, "next tokens stored", stored, 1)
	if !getGrant(t, s, "grt_1").Revoked() {
		t.Fatal("grant not revoked after concurrent replays")
	}
}

// testDeleteExpired: expired requests, codes and refresh tokens go, and so
// do grants revoked before the cutoff or left without refresh tokens;
// everything still usable stays.
func testDeleteExpired(t *testing.T, s store.Store) {
	ctx := t.Context()
	now := time.Now().UTC()
	cutoff := now.Add(time.Minute)
	old, live := now.Add(-time.Hour), now.Add(2*time.Hour)
	for hash, exp := range map[string]time.Time{"req-old": old, "req-live": live} {
		ok(t, s.CreateAuthRequest(ctx, store.AuthRequest{HandleHash: hash, ClientID: "c", RedirectURI: "https://a/cb",
			Resource: "https://mcp.example/mcp", CodeChallenge: "x", CodeChallengeMethod: "S256", CSRFHash: "h",
			CreatedAt: past, ExpiresAt: exp}), "CreateAuthRequest "+hash)
		ok(t, s.CreateAuthCode(ctx, store.AuthCode{CodeHash: "code-" + hash, ClientID: "c", OrgCode: "org_a", UserID: "usr_1",
			RedirectURI: "https://a/cb", Resource: "https://mcp.example/mcp", CodeChallenge: "x", CreatedAt: past, ExpiresAt: exp}),
			"CreateAuthCode "+hash)
	}
	createGrant(t, s, "g-expired-tokens") // its only token expired: the grant goes too
	createToken(t, s, "t-expired", "g-expired-tokens", old)
	createGrant(t, s, "g-live") // a live token keeps it
	createToken(t, s, "t-live", "g-live", live)
	createGrant(t, s, "g-revoked") // revoked before the cutoff: goes with its token
	createToken(t, s, "t-of-revoked", "g-revoked", live)
	ok(t, s.RevokeGrant(ctx, "g-revoked"), "RevokeGrant")
	fresh := store.Grant{ID: "g-fresh", ClientID: "c", OrgCode: "org_a", UserID: "usr_1", Resource: "https://mcp.example/mcp",
		CreatedAt: now.Add(time.Hour)} // newer than the cutoff: stays, tokens or not
	ok(t, s.CreateGrant(ctx, fresh), "CreateGrant g-fresh")
	for id, exp := range map[string]time.Time{"jti-old": old, "jti-live": live, "jti-forever": {}} {
		ok(t, s.RevokeToken(ctx, store.RevokedToken{TokenID: id, ClientID: "c", ExpiresAt: exp}), "RevokeToken "+id)
	}

	n, err := s.DeleteExpired(ctx, cutoff)
	ok(t, err, "DeleteExpired")
	equal(t, "rows removed (request, code, expired token, two grants, denylist entry)", n, 6)
	// The denylist entry is gone even for a since before its expiry.
	denied, err := s.RevokedTokensSince(ctx, time.Time{})
	ok(t, err, "RevokedTokensSince")
	equal(t, "denylist after DeleteExpired", sortedCopy(keys(denied, func(r store.RevokedToken) string { return r.TokenID })),
		[]string{"jti-forever", "jti-live"})

	_, err = s.GetAuthRequest(ctx, "req-old")
	wantErr(t, err, store.ErrNotFound, "expired auth request")
	_, err = s.GetAuthRequest(ctx, "req-live")
	ok(t, err, "live auth request")
	_, err = s.RedeemAuthCode(ctx, "code-req-old", "g-x")
	wantErr(t, err, store.ErrNotFound, "expired code")
	_, err = s.RedeemAuthCode(ctx, "code-req-live", "g-y")
	ok(t, err, "live code")
	for _, id := range []string{"g-expired-tokens", "g-revoked"} {
		_, err := s.GetGrant(ctx, id)
		wantErr(t, err, store.ErrNotFound, "grant "+id)
	}
	for _, id := range []string{"g-live", "g-fresh"} {
		getGrant(t, s, id)
	}
	lookupToken(t, s, "t-live")
	for _, hash := range []string{"t-expired", "t-of-revoked"} {
		_, _, err := s.LookupRefreshToken(ctx, hash)
		wantErr(t, err, store.ErrNotFound, "refresh token "+hash)
	}

	n, err = s.DeleteExpired(ctx, cutoff)
	ok(t, err, "DeleteExpired again")
	equal(t, "rows removed the second time", n, 0)
}

// testRefreshRotateReuseWindow: a token rotated less than the window ago
// is rotated again, into a second successor of the same grant; later it
// is a replay.
func testRefreshRotateReuseWindow(t *testing.T, s store.Store) {
	ctx := t.Context()
	const window = time.Minute
	g := createGrant(t, s, "grt_1")
	createToken(t, s, "t1", "grt_1", future)
	_, err := s.RotateRefreshToken(ctx, "t1", store.RefreshToken{TokenHash: "t2", ExpiresAt: future}, window)
	ok(t, err, "RotateRefreshToken t1")
	first := lookupToken(t, s, "t1").RotatedAt

	got, err := s.RotateRefreshToken(ctx, "t1", store.RefreshToken{TokenHash: "t2_retry", ExpiresAt: future}, window)
	ok(t, err, "RotateRefreshToken t1 again within the window")
	equal(t, "grant of the retry", got, g)
	equal(t, "grant after the retry", getGrant(t, s, "grt_1"), g)
	for _, hash := range []string{"t2", "t2_retry"} {
		if rt := lookupToken(t, s, hash); rt.GrantID != "grt_1" || !rt.RotatedAt.IsZero() {
			t.Fatalf("successor %s = %+v, want a fresh token of grt_1", hash, rt)
		}
	}
	equal(t, "t1 keeps its first rotation time", lookupToken(t, s, "t1").RotatedAt, first)
	_, err = s.RotateRefreshToken(ctx, "t2_retry", store.RefreshToken{TokenHash: "t3", ExpiresAt: future}, window)
	ok(t, err, "RotateRefreshToken of the retry's successor")

	// Past the window (here: a window shorter than the time since), a
	// replay revokes the grant; so does a window of zero.
	time.Sleep(5 * time.Millisecond)
	_, err = s.RotateRefreshToken(ctx, "t1", store.RefreshToken{TokenHash: "t2_late", ExpiresAt: future}, time.Millisecond)
	wantErr(t, err, store.ErrReplayed, "RotateRefreshToken t1 past the window")
	if !getGrant(t, s, "grt_1").Revoked() {
		t.Fatal("grant not revoked by a replay past the window")
	}
	_, _, err = s.LookupRefreshToken(ctx, "t2_late")
	wantErr(t, err, store.ErrNotFound, "successor of a replay")

	createGrant(t, s, "grt_2")
	createToken(t, s, "u1", "grt_2", future)
	_, err = s.RotateRefreshToken(ctx, "u1", store.RefreshToken{TokenHash: "u2", ExpiresAt: future}, window)
	ok(t, err, "RotateRefreshToken u1")
	_, err = s.RotateRefreshToken(ctx, "u1", store.RefreshToken{TokenHash: "u2_zero", ExpiresAt: future}, 0)
	wantErr(t, err, store.ErrReplayed, "RotateRefreshToken u1 again with no window")

	// Within the window, a revoked grant or an expired token still refuses.
	createGrant(t, s, "grt_3")
	createToken(t, s, "v1", "grt_3", future)
	_, err = s.RotateRefreshToken(ctx, "v1", store.RefreshToken{TokenHash: "v2", ExpiresAt: future}, window)
	ok(t, err, "RotateRefreshToken v1")
	ok(t, s.RevokeGrant(ctx, "grt_3"), "RevokeGrant")
	_, err = s.RotateRefreshToken(ctx, "v1", store.RefreshToken{TokenHash: "v2_retry", ExpiresAt: future}, window)
	wantErr(t, err, store.ErrNotFound, "retry in a revoked grant")
	createGrant(t, s, "grt_4")
	createToken(t, s, "w1", "grt_4", time.Now().Add(time.Second))
	_, err = s.RotateRefreshToken(ctx, "w1", store.RefreshToken{TokenHash: "w2", ExpiresAt: future}, window)
	ok(t, err, "RotateRefreshToken w1")
	for time.Now().Before(lookupToken(t, s, "w1").ExpiresAt.Add(time.Millisecond)) {
		time.Sleep(50 * time.Millisecond)
	}
	_, err = s.RotateRefreshToken(ctx, "w1", store.RefreshToken{TokenHash: "w2_retry", ExpiresAt: future}, window)
	wantErr(t, err, store.ErrNotFound, "retry of an expired token")
	for _, hash := range []string{"v2_retry", "w2_retry"} {
		_, _, err = s.LookupRefreshToken(ctx, hash)
		wantErr(t, err, store.ErrNotFound, "successor of a refused retry "+hash)
	}
}

func testDenylistRevokeToken(t *testing.T, s store.Store) {
	ctx := t.Context()
	since := func(at time.Time) []store.RevokedToken {
		t.Helper()
		got, err := s.RevokedTokensSince(ctx, at)
		ok(t, err, "RevokedTokensSince")
		return got
	}
	equal(t, "denylist of a fresh store", len(since(time.Time{})), 0)

	ok(t, s.RevokeToken(ctx, store.RevokedToken{TokenID: "jti-1", ClientID: "c1", ExpiresAt: future}), "RevokeToken jti-1")
	ok(t, s.RevokeToken(ctx, store.RevokedToken{TokenID: "jti-expired", ClientID: "c1", ExpiresAt: past}), "RevokeToken jti-expired")
	listed := since(time.Time{})
	if len(listed) != 1 || !isStamped(listed[0].RevokedAt) {
		t.Fatalf("denylist = %+v, want jti-1 with RevokedAt stamped", listed)
	}
	first := listed[0]
	equal(t, "listed token", first, store.RevokedToken{TokenID: "jti-1", ClientID: "c1", ExpiresAt: future, RevokedAt: first.RevokedAt})

	time.Sleep(2 * time.Millisecond) // so that a second RevokedAt would differ
	ok(t, s.RevokeToken(ctx, store.RevokedToken{TokenID: "jti-1", ClientID: "other", ExpiresAt: future.Add(time.Hour)}), "RevokeToken jti-1 again")
	equal(t, "denylist after revoking again", since(time.Time{}), []store.RevokedToken{first})
	ok(t, s.RevokeToken(ctx, store.RevokedToken{TokenID: "jti-2", ClientID: "c2"}), "RevokeToken jti-2 (no expiry)")
	listed = since(first.RevokedAt)
	if len(listed) != 2 || !isStamped(listed[1].RevokedAt) {
		t.Fatalf("denylist since the first revocation = %+v, want jti-1 then jti-2", listed)
	}
	equal(t, "denylist since the first revocation", listed,
		[]store.RevokedToken{first, {TokenID: "jti-2", ClientID: "c2", RevokedAt: listed[1].RevokedAt}})
	equal(t, "denylist since after the second revocation", len(since(listed[1].RevokedAt.Add(time.Microsecond))), 0)
	equal(t, "denylist since the second revocation", since(listed[1].RevokedAt), listed[1:])
	for id, want := range map[string]bool{"jti-1": true, "jti-2": true, "jti-expired": false, "jti-never": false} {
		got, err := s.IsTokenRevoked(ctx, id)
		ok(t, err, "IsTokenRevoked "+id)
		equal(t, "IsTokenRevoked "+id, got, want)
	}
}

func testDenylistClientCutoff(t *testing.T, s store.Store) {
	ctx := t.Context()
	since := func(at time.Time) []store.ClientCutoff {
		t.Helper()
		got, err := s.ClientCutoffsSince(ctx, at)
		ok(t, err, "ClientCutoffsSince")
		return got
	}
	equal(t, "cutoffs of a fresh store", len(since(time.Time{})), 0)

	first, err := s.CutOffClient(ctx, "c1", future)
	ok(t, err, "CutOffClient c1")
	if !isStamped(first.Cutoff) || first.ChangedAt != first.Cutoff || !first.ExpiresAt.Equal(future) {
		t.Fatalf("first cutoff = %+v", first)
	}
	equal(t, "cutoffs", since(time.Time{}), []store.ClientCutoff{first})
	_, err = s.CutOffClient(ctx, "c-old", past)
	ok(t, err, "CutOffClient c-old (already expired)")
	equal(t, "expired cutoffs are not listed", since(time.Time{}), []store.ClientCutoff{first})

	time.Sleep(2 * time.Millisecond)
	second, err := s.CutOffClient(ctx, "c1", future.Add(-time.Hour))
	ok(t, err, "CutOffClient c1 again")
	if !second.Cutoff.After(first.Cutoff) || !second.ExpiresAt.Equal(future) {
		t.Fatalf("a later cutoff = %+v after %+v: the cutoff moves forward and the expiry never back", second, first)
	}
	equal(t, "cutoffs since the second change", since(second.ChangedAt), []store.ClientCutoff{second})
	equal(t, "cutoffs since after it", len(since(second.ChangedAt.Add(time.Microsecond))), 0)

	// InTx: the cutoff commits or rolls back with the rest.
	err = s.InTx(ctx, func(tx store.Tx) error {
		if _, err := tx.CutOffClient(ctx, "c-tx", future); err != nil {
			return err
		}
		return errRollback
	})
	wantErr(t, err, errRollback, "InTx returning an error")
	for _, c := range since(time.Time{}) {
		if c.ClientID == "c-tx" {
			t.Errorf("a rolled-back cutoff is listed: %+v", c)
		}
	}

	n, err := s.DeleteExpired(ctx, time.Now())
	ok(t, err, "DeleteExpired")
	if n < 1 {
		t.Errorf("DeleteExpired removed %d rows; the expired cutoff should have gone", n)
	}
	equal(t, "cutoffs after DeleteExpired", since(time.Time{}), []store.ClientCutoff{second})
}

var errRollback = errors.New("storetest: roll back")
