package settings_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/pem"
	"math/big"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// testCert is a self-signed RSA certificate with its key.
type testCert struct {
	cert *x509.Certificate
	key  *rsa.PrivateKey
}

var (
	testCertOnce sync.Once
	testCertVal  testCert
	testCertErr  error
)

// newTestCert returns a self-signed RSA certificate, generated once per test binary.
func newTestCert(tb testing.TB) testCert {
	tb.Helper()
	testCertOnce.Do(func() {
		key, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			testCertErr = err
			return
		}
		tmpl := &x509.Certificate{
			SerialNumber: big.NewInt(1),
			Subject:      pkix.Name{CommonName: "funcsignalr test"},
			NotBefore:    time.Now().Add(-time.Hour),
			NotAfter:     time.Now().Add(24 * time.Hour),
			KeyUsage:     x509.KeyUsageDigitalSignature,
		}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
		if err != nil {
			testCertErr = err
			return
		}
		cert, err := x509.ParseCertificate(der)
		testCertVal, testCertErr = testCert{cert: cert, key: key}, err
	})
	if testCertErr != nil {
		tb.Fatal(testCertErr)
	}
	return testCertVal
}

// pem is the certificate and its PKCS#8 key in PEM.
func (c testCert) pem(tb testing.TB) []byte {
	tb.Helper()
	der, err := x509.MarshalPKCS8PrivateKey(c.key)
	if err != nil {
		tb.Fatal(err)
	}
	out := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.cert.Raw})
	return append(out, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})...)
}

// pfx is the certificate and its key in a legacy (SHA-1 MAC) PKCS#12 file.
func (c testCert) pfx(tb testing.TB, password string) []byte {
	tb.Helper()
	b, err := encodeLegacyPFX(c.cert, c.key, password)
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

// certFiles are certificate files in a temporary directory.
type certFiles struct {
	dir        string
	pem        string // certificate + PKCS#8 key
	pfx        string // password "pfx-pass"
	thumbprint string // lower-case; <DIR>/<UPPER>.p12 exists, no password
	garbage    string
	ecdsa      string // PEM with an ECDSA key
	missing    string
}

const pfxPassword = "pfx-pass"

func newCertFiles(tb testing.TB) certFiles {
	tb.Helper()
	c := newTestCert(tb)
	dir := tb.TempDir()
	sum := sha1.Sum(c.cert.Raw)
	thumb := hex.EncodeToString(sum[:])
	writeFile(tb, dir, strings.ToUpper(thumb)+".p12", c.pfx(tb, ""))

	ecKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		tb.Fatal(err)
	}
	ecDER, err := x509.MarshalPKCS8PrivateKey(ecKey)
	if err != nil {
		tb.Fatal(err)
	}
	ecPEM := append(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.cert.Raw}),
		pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: ecDER})...)

	return certFiles{
		dir:        dir,
		pem:        writeFile(tb, dir, "cert.pem", c.pem(tb)),
		pfx:        writeFile(tb, dir, "cert.pfx", c.pfx(tb, pfxPassword)),
		thumbprint: thumb,
		garbage:    writeFile(tb, dir, "garbage.pem", []byte("not a certificate")),
		ecdsa:      writeFile(tb, dir, "ecdsa.pem", ecPEM),
		missing:    filepath.Join(dir, "missing.pem"),
	}
}
