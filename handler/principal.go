package handler

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"
)

// principalHeader is the header in which App Service Authentication passes
// the signed-in user's claims to the app (and strips from callers):
// base64 JSON {"auth_typ","name_typ","role_typ","claims":[{"typ","val"}]}.
// https://learn.microsoft.com/azure/app-service/configure-authentication-user-identities
const principalHeader = "X-Ms-Client-Principal"

// maxPrincipalHeader bounds the header decoded: App Service passes the
// token's claims, well under the 16 KiB that headers of a request may hold.
const maxPrincipalHeader = 16 << 10

// clientPrincipal is the decoded x-ms-client-principal.
type clientPrincipal struct {
	AuthType string `json:"auth_typ"`
	NameType string `json:"name_typ"`
	RoleType string `json:"role_typ"`
	Claims   []struct {
		Type  string `json:"typ"`
		Value string `json:"val"`
	} `json:"claims"`
}

// principalClaims decodes an x-ms-client-principal value and returns the
// values of the claims whose type is in types (compared exactly, as the
// official binding's claimTypeList is), in the header's order. Its errors
// say what is wrong without quoting the header.
func principalClaims(header string, types []string) (map[string][]string, error) {
	if len(header) > maxPrincipalHeader {
		return nil, errors.New("longer than 16 KiB")
	}
	header = strings.TrimSpace(header)
	var raw []byte
	var err error
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if raw, err = enc.DecodeString(header); err == nil {
			break
		}
	}
	if err != nil {
		return nil, errors.New("not base64")
	}
	var p clientPrincipal
	if err := json.Unmarshal(raw, &p); err != nil {
		return nil, errors.New(`not the JSON object {"auth_typ","name_typ","role_typ","claims":[{"typ","val"}]}`)
	}
	var claims map[string][]string
	for _, c := range p.Claims {
		for _, t := range types {
			if c.Type == t {
				if claims == nil {
					claims = make(map[string][]string, len(types))
				}
				claims[t] = append(claims[t], c.Value)
				break
			}
		}
	}
	return claims, nil
}
