package auth_test

import (
	"slices"
	"testing"

	"github.com/orgscope/orgscope/auth"
)

func TestGrants(t *testing.T) {
	tests := []struct {
		granted []string
		needed  string
		want    bool
	}{
		{[]string{"read:users"}, "read:users", true},
		{[]string{"write:users"}, "read:users", true},
		{[]string{"write:users"}, "write:users", true},
		{[]string{"read:users"}, "write:users", false},
		{[]string{"write:users"}, "delete:users", false},
		{[]string{"write:users", "write:orgs", "write:flags"}, "delete:users", false},
		{[]string{"delete:users"}, "delete:users", true},
		{[]string{"delete:users"}, "read:users", false},
		{[]string{"write:flags"}, "read:users", false},
		{[]string{"write:orgs"}, "read:orgs", true},
		{[]string{"write:audit"}, "read:audit", true},
		{nil, "read:users", false},
	}
	for _, tt := range tests {
		if got := auth.Grants(tt.granted, tt.needed); got != tt.want {
			t.Errorf("Grants(%v, %s) = %v, want %v", tt.granted, tt.needed, got, tt.want)
		}
	}
}

func TestMissing(t *testing.T) {
	got := auth.Missing([]string{"write:users"}, []string{"read:users", "delete:users", "read:flags"})
	if want := []string{"delete:users", "read:flags"}; !slices.Equal(got, want) {
		t.Errorf("Missing = %v, want %v", got, want)
	}
}

func TestNarrow(t *testing.T) {
	tests := []struct {
		allowed, requested, want []string
	}{
		{[]string{"write:users"}, []string{"read:users"}, []string{"read:users"}},
		{[]string{"write:users"}, []string{"write:users", "read:users", "delete:users"}, []string{"read:users", "write:users"}},
		{[]string{"read:users"}, []string{"write:users", "openid", "offline_access"}, nil},
		{auth.AllScopes, []string{"read:flags", "bogus"}, []string{"read:flags"}},
	}
	for _, tt := range tests {
		if got := auth.Narrow(tt.allowed, tt.requested); !slices.Equal(got, tt.want) {
			t.Errorf("Narrow(%v, %v) = %v, want %v", tt.allowed, tt.requested, got, tt.want)
		}
	}
}

func TestParseScopes(t *testing.T) {
	if got := auth.ParseScopes("  read:users\tread:users  write:flags "); !slices.Equal(got, []string{"read:users", "write:flags"}) {
		t.Errorf("ParseScopes = %v", got)
	}
}
