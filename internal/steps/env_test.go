package steps

import (
	"slices"
	"strings"
	"testing"
)

func TestConfigFromEnv(t *testing.T) {
	tests := []struct {
		name    string
		env     map[string]string
		wantErr string // "" when valid
		check   func(Config) bool
	}{
		{"minimal", map[string]string{EnvAccountID: account}, "", func(c Config) bool {
			return c.AccountID == account && c.VPCResolver == DefaultVPCResolver && c.IPv4Only && len(c.AlarmRepairsOff) == 0
		}},
		{"no account", map[string]string{}, EnvAccountID, nil},
		{"deletion window", map[string]string{EnvAccountID: account, EnvKMSDeletionWindow: "6"}, EnvKMSDeletionWindow, nil},
		{"repairs off", map[string]string{EnvAccountID: account, EnvAlarmRepairsOff: "enableKey, restorePolicy"}, "", func(c Config) bool {
			return slices.Equal(c.AlarmRepairsOff, []string{"enableKey", "restorePolicy"})
		}},
		{"unknown repair", map[string]string{EnvAccountID: account, EnvAlarmRepairsOff: "deleteKey"}, "unknown repair", nil},
		{"bad roots", map[string]string{EnvAccountID: account, EnvDNSRoots: "127.0.0.1"}, EnvDNSRoots, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, k := range []string{EnvAccountID, EnvKMSDeletionWindow, EnvAlarmRepairsOff, EnvDNSRoots} {
				t.Setenv(k, tt.env[k])
			}
			cfg, err := ConfigFromEnv()
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error %v, want one naming %s", err, tt.wantErr)
				}
				return
			}
			if err != nil || !tt.check(cfg) {
				t.Fatalf("config %+v, error %v", cfg, err)
			}
		})
	}
}
