package upstream

import (
	"strings"
	"testing"
)

func TestSign(t *testing.T) {
	tests := []struct {
		name, connectionID, key, want string
	}{
		// RFC 4231 test case 2: HMAC-SHA256 with the key "Jefe".
		{"RFC 4231 case 2", "what do ya want for nothing?", "Jefe",
			"sha256=5BDCC146BF60754E6A042426089575C75A003F089D2739839DEC58B964EC3843"},
		// printf conn-1 | openssl dgst -sha256 -hmac key
		{"openssl", "conn-1", "key", "sha256=D9785766C196BEE6706287A715BEBA1F06CC86A986C72A7C8382D987D492BE03"},
		// The key is used as UTF-8 text, never base64-decoded: "a2V5" is
		// base64 for "key" yet signs differently.
		{"key not base64-decoded", "conn-1", "a2V5", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Sign(tt.connectionID, tt.key)
			if tt.want == "" {
				if got == Sign(tt.connectionID, "key") {
					t.Errorf("got %s for the base64 text of the key, want it to differ from the key's", got)
				}
				return
			}
			if got != tt.want {
				t.Errorf("got %s, want %s", got, tt.want)
			}
		})
	}
}

func TestVerifySignatureMessagesHoldNoSecret(t *testing.T) {
	sig := Sign(testConnID, "wrong-key")
	err := verifySignature([]string{sig}, testConnID, []string{testKey})
	if err == nil {
		t.Fatal("got no error, want Unauthorized")
	}
	for _, secret := range []string{sig, strings.TrimPrefix(sig, "sha256="), testKey, Sign(testConnID, testKey)} {
		if strings.Contains(err.Message, secret) {
			t.Errorf("got message %q, want it without %q", err.Message, secret)
		}
	}
}
