package upstream

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"strings"

	"github.com/funcsignalr/funcsignalr/apierror"
)

// signaturePrefix starts every signature value.
const signaturePrefix = "sha256="

// Sign returns the X-ASRS-Signature value that proves an upstream request
// for connectionID comes from the resource holding accessKey:
// "sha256=" + the upper-case hex HMAC-SHA256 of the UTF-8 connection id,
// keyed with the UTF-8 bytes of the access key string (not base64-decoded),
// as Azure SignalR Service and its emulator compute it
// (https://learn.microsoft.com/azure/azure-signalr/concept-upstream#signature).
// A service with two keys sends both signatures, separated by a comma.
func Sign(connectionID, accessKey string) string {
	return signaturePrefix + strings.ToUpper(hex.EncodeToString(mac(connectionID, accessKey)))
}

func mac(connectionID, accessKey string) []byte {
	m := hmac.New(sha256.New, []byte(accessKey))
	m.Write([]byte(connectionID))
	return m.Sum(nil)
}

// verifySignature checks the X-ASRS-Signature values against every key:
// each value may hold several signatures separated by commas (the service
// signs with its primary and secondary keys), spaces around them are
// ignored, the "sha256=" prefix and the hex digits are read in any letter
// case, and one match with any key passes. Bytes are compared in constant
// time. An empty key never matches.
func verifySignature(values []string, connectionID string, keys []string) *apierror.Error {
	var want [][]byte
	for _, k := range keys {
		if k != "" {
			want = append(want, mac(connectionID, k))
		}
	}
	seen := false
	for _, v := range values {
		for sig := range strings.SplitSeq(v, ",") {
			sig = strings.TrimSpace(sig)
			if sig == "" {
				continue
			}
			seen = true
			if len(sig) < len(signaturePrefix) || !strings.EqualFold(sig[:len(signaturePrefix)], signaturePrefix) {
				continue
			}
			got, err := hex.DecodeString(sig[len(signaturePrefix):])
			if err != nil {
				continue
			}
			for _, w := range want {
				if hmac.Equal(got, w) {
					return nil
				}
			}
		}
	}
	if !seen {
		return apierror.New(apierror.Unauthorized, "the %s header is missing", HeaderSignature)
	}
	return apierror.New(apierror.Unauthorized, "%s matches none of the access keys of the SignalR connection", HeaderSignature)
}
