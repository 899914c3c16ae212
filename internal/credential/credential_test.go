package credential_test

import (
	"testing"

	"github.com/orgscope/orgscope/internal/credential"
)

func TestSecretMatchesAny(t *testing.T) {
	old, current := credential.NewSecret(), credential.NewSecret()
	hashes := []string{credential.HashSecret(current), credential.HashSecret(old)}
	for _, tc := range []struct {
		secret string
		hashes []string
		want   bool
	}{
		{current, hashes, true},
		{old, hashes, true},
		{old, hashes[:1], false},
		{credential.NewSecret(), hashes, false},
		{"", hashes, false},
		{current, nil, false},
		{"", []string{""}, false}, // an empty hash matches nothing, not even an empty secret
	} {
		if got := credential.SecretMatchesAny(tc.secret, tc.hashes); got != tc.want {
			t.Errorf("SecretMatchesAny(%q, %d hashes) = %v, want %v", tc.secret, len(tc.hashes), got, tc.want)
		}
	}
}
