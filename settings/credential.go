package settings

import (
	"crypto"
	"crypto/rsa"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"regexp"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"

	"github.com/funcsignalr/funcsignalr/apierror"
)

// Descriptions of the credentials, for Connection.Auth.
const (
	authDescDefault         = "DefaultAzureCredential"
	authDescManagedIdentity = "managed identity"
)

// applicationIDPattern is the shape of a Microsoft Entra application
// (client) id and of a managed identity's client id: a GUID.
var applicationIDPattern = regexp.MustCompile(`^[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}$`)

// describeClientID names a client id in the start-up line when it looks
// like one. Anything else is not printed: clientId and clientSecret sit side
// by side in the settings, and a secret put in clientId by mistake must not
// reach the log. Such a value is also kept from errors and diagnostics, as
// the authority may echo the client id it was sent.
func (r *resolver) describeClientID(id string) string {
	if applicationIDPattern.MatchString(id) {
		return "client " + id
	}
	r.secrets = append(r.secrets, id)
	return "the clientId setting does not look like an application id"
}

// credentialError wraps an azidentity constructor error; resolver.scrub
// withholds it if it echoes a secret.
func credentialError(key, what string, err error) error {
	return apierror.Setting(key, "cannot create "+what+": "+err.Error())
}

func (r *resolver) clientSecret(key, tenant, client, secret string) (azcore.TokenCredential, string, error) {
	co, disable, err := r.entraOptions()
	if err != nil {
		return nil, "", err
	}
	cred, err := azidentity.NewClientSecretCredential(tenant, client, secret, &azidentity.ClientSecretCredentialOptions{
		ClientOptions:            co,
		DisableInstanceDiscovery: disable,
	})
	if err != nil {
		return nil, "", credentialError(key, "client secret credential", err)
	}
	return cred, fmt.Sprintf("client secret (tenant %s, %s)", tenant, r.describeClientID(client)), nil
}

func (r *resolver) clientCertificate(key, tenant, client string, certs []*x509.Certificate, pk crypto.PrivateKey) (azcore.TokenCredential, string, error) {
	co, disable, err := r.entraOptions()
	if err != nil {
		return nil, "", err
	}
	cred, err := azidentity.NewClientCertificateCredential(tenant, client, certs, pk, &azidentity.ClientCertificateCredentialOptions{
		ClientOptions:            co,
		DisableInstanceDiscovery: disable,
	})
	if err != nil {
		return nil, "", credentialError(key, "client certificate credential", err)
	}
	return cred, fmt.Sprintf("client certificate (tenant %s, %s)", tenant, r.describeClientID(client)), nil
}

// managedIdentity builds a ManagedIdentityCredential, user-assigned when
// clientID is set. Managed identity does not talk to a Microsoft Entra
// authority, so instance discovery and the authority host do not apply.
func (r *resolver) managedIdentity(key, clientID string) (azcore.TokenCredential, string, error) {
	o := &azidentity.ManagedIdentityCredentialOptions{ClientOptions: r.opts.ClientOptions}
	desc := authDescManagedIdentity
	if clientID != "" {
		o.ID = azidentity.ClientID(clientID)
		desc += " (" + r.describeClientID(clientID) + ")"
	}
	cred, err := azidentity.NewManagedIdentityCredential(o)
	if err != nil {
		return nil, "", credentialError(key, "managed identity credential", err)
	}
	return cred, desc, nil
}

func (r *resolver) defaultCredential(key string) (azcore.TokenCredential, string, error) {
	co, disable, err := r.entraOptions()
	if err != nil {
		return nil, "", err
	}
	cred, err := azidentity.NewDefaultAzureCredential(&azidentity.DefaultAzureCredentialOptions{
		ClientOptions:            co,
		DisableInstanceDiscovery: disable,
	})
	if err != nil {
		return nil, "", credentialError(key, authDescDefault, err)
	}
	return cred, authDescDefault, nil
}

// loadCertificate reads a PEM or PKCS#12 (PFX) file holding a certificate
// and its RSA private key. Errors name the file, never the password.
func loadCertificate(path, password string) ([]*x509.Certificate, crypto.PrivateKey, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		if pe := (*os.PathError)(nil); errors.As(err, &pe) {
			err = pe.Err
		}
		return nil, nil, fmt.Errorf("cannot read certificate file %s: %v", path, err)
	}
	certs, key, err := azidentity.ParseCertificates(data, []byte(password))
	if err != nil {
		return nil, nil, fmt.Errorf("cannot parse certificate file %s: %v (want PEM with a certificate and an unencrypted "+
			"private key, or PKCS#12 with a SHA-1 MAC and the right clientCertificatePassword)", path, err)
	}
	if _, ok := key.(*rsa.PrivateKey); !ok {
		return nil, nil, fmt.Errorf("the private key in certificate file %s is not an RSA key, which Microsoft Entra ID requires", path)
	}
	return certs, key, nil
}
