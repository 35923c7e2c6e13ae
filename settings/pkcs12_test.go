package settings_test

// A minimal PKCS#12 (PFX) encoder for tests, so a PFX can be made at test
// time without a new module or openssl: golang.org/x/crypto/pkcs12 only
// decodes. It writes what `openssl pkcs12 -export -legacy` writes and
// azidentity.ParseCertificates reads: the key in a PKCS#8 shrouded key bag
// encrypted with pbeWithSHAAnd3-KeyTripleDES-CBC, the certificate in a
// plain cert bag, and an HMAC-SHA1 MAC (RFC 7292).

import (
	"crypto/cipher"
	"crypto/des"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha1"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"math/big"
	"unicode/utf16"
)

var (
	oidData            = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 7, 1}
	oidSHA1            = asn1.ObjectIdentifier{1, 3, 14, 3, 2, 26}
	oidPBEWithSHA3DES  = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 12, 1, 3}
	oidShroudedKeyBag  = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 12, 10, 1, 2}
	oidCertBag         = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 12, 10, 1, 3}
	oidX509Certificate = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 22, 1}
)

const (
	pfxIterations       = 2048
	pfxKDFBlockSize     = 64 // v in RFC 7292 B.2, for SHA-1
	pfxKDFHashSize      = 20 // u
	pfxKDFKeyMaterial   = 1  // ID byte for a key
	pfxKDFIVMaterial    = 2  // ID byte for an IV
	pfxKDFMACMaterial   = 3  // ID byte for a MAC key
	pfxTripleDESKeySize = 24
)

type pfxContentInfo struct {
	ContentType asn1.ObjectIdentifier
	Content     asn1.RawValue // explicit [0], see explicit0
}

type pfxSafeBag struct {
	ID    asn1.ObjectIdentifier
	Value asn1.RawValue // explicit [0], see explicit0
}

type pfxCertBag struct {
	ID   asn1.ObjectIdentifier
	Data []byte `asn1:"tag:0,explicit"`
}

type pfxPBEParams struct {
	Salt       []byte
	Iterations int
}

type pfxEncryptedKey struct {
	Algorithm pkix.AlgorithmIdentifier
	Data      []byte
}

type pfxDigestInfo struct {
	Algorithm pkix.AlgorithmIdentifier
	Digest    []byte
}

type pfxMacData struct {
	Mac        pfxDigestInfo
	Salt       []byte
	Iterations int
}

type pfxPDU struct {
	Version  int
	AuthSafe pfxContentInfo
	MacData  pfxMacData
}

// encodeLegacyPFX encodes cert and key (any key x509.MarshalPKCS8PrivateKey
// takes) as a password-protected PFX with SHA-1 MAC and 3DES encryption.
func encodeLegacyPFX(cert *x509.Certificate, key any, password string) ([]byte, error) {
	pw := bmpPassword(password)

	pkcs8, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, err
	}
	salt := randomBytes(8)
	encrypted := tripleDESEncrypt(
		pkcs12KDF(salt, pw, pfxKDFKeyMaterial, pfxTripleDESKeySize),
		pkcs12KDF(salt, pw, pfxKDFIVMaterial, des.BlockSize),
		pkcs8)
	params, err := asn1.Marshal(pfxPBEParams{Salt: salt, Iterations: pfxIterations})
	if err != nil {
		return nil, err
	}
	keyBag, err := asn1.Marshal(pfxEncryptedKey{
		Algorithm: pkix.AlgorithmIdentifier{Algorithm: oidPBEWithSHA3DES, Parameters: asn1.RawValue{FullBytes: params}},
		Data:      encrypted,
	})
	if err != nil {
		return nil, err
	}
	certBag, err := asn1.Marshal(pfxCertBag{ID: oidX509Certificate, Data: cert.Raw})
	if err != nil {
		return nil, err
	}

	certSafe, err := dataContentInfo([]pfxSafeBag{{ID: oidCertBag, Value: explicit0(certBag)}})
	if err != nil {
		return nil, err
	}
	keySafe, err := dataContentInfo([]pfxSafeBag{{ID: oidShroudedKeyBag, Value: explicit0(keyBag)}})
	if err != nil {
		return nil, err
	}
	authSafe, err := asn1.Marshal([]pfxContentInfo{certSafe, keySafe})
	if err != nil {
		return nil, err
	}

	macSalt := randomBytes(8)
	mac := hmac.New(sha1.New, pkcs12KDF(macSalt, pw, pfxKDFMACMaterial, pfxKDFHashSize))
	mac.Write(authSafe)
	outer, err := octetContentInfo(authSafe)
	if err != nil {
		return nil, err
	}
	return asn1.Marshal(pfxPDU{
		Version:  3,
		AuthSafe: outer,
		MacData: pfxMacData{
			Mac: pfxDigestInfo{
				Algorithm: pkix.AlgorithmIdentifier{Algorithm: oidSHA1, Parameters: asn1.NullRawValue},
				Digest:    mac.Sum(nil),
			},
			Salt:       macSalt,
			Iterations: pfxIterations,
		},
	})
}

// dataContentInfo wraps SafeContents in a ContentInfo of type data.
func dataContentInfo(bags []pfxSafeBag) (pfxContentInfo, error) {
	contents, err := asn1.Marshal(bags)
	if err != nil {
		return pfxContentInfo{}, err
	}
	return octetContentInfo(contents)
}

// octetContentInfo is a ContentInfo of type data holding b as an OCTET STRING.
func octetContentInfo(b []byte) (pfxContentInfo, error) {
	octets, err := asn1.Marshal(b)
	if err != nil {
		return pfxContentInfo{}, err
	}
	return pfxContentInfo{ContentType: oidData, Content: explicit0(octets)}, nil
}

// explicit0 wraps DER in an explicit [0] tag. The field tag "tag:0,explicit"
// does not do it: encoding/asn1 writes a RawValue as it is.
func explicit0(der []byte) asn1.RawValue {
	return asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: 0, IsCompound: true, Bytes: der}
}

// bmpPassword is the password as PKCS#12 hashes it: UTF-16BE, two zero bytes after.
func bmpPassword(s string) []byte {
	var out []byte
	for _, r := range utf16.Encode([]rune(s)) {
		out = append(out, byte(r>>8), byte(r))
	}
	return append(out, 0, 0)
}

// pkcs12KDF derives size bytes of key material of type id (RFC 7292 B.2)
// with SHA-1 and pfxIterations rounds.
func pkcs12KDF(salt, password []byte, id byte, size int) []byte {
	v := pfxKDFBlockSize
	fill := func(b []byte) []byte {
		if len(b) == 0 {
			return nil
		}
		n := v * ((len(b) + v - 1) / v)
		out := make([]byte, n)
		for i := range out {
			out[i] = b[i%len(b)]
		}
		return out
	}
	d := make([]byte, v)
	for i := range d {
		d[i] = id
	}
	in := append(fill(salt), fill(password)...)
	var out []byte
	for len(out) < size {
		h := sha1.Sum(append(append([]byte{}, d...), in...))
		a := h[:]
		for range pfxIterations - 1 {
			h = sha1.Sum(a)
			a = h[:]
		}
		out = append(out, a...)
		if len(out) >= size {
			break
		}
		// I_j = (I_j + B + 1) mod 2^(8v), B = A repeated to v bytes.
		b := new(big.Int).SetBytes(fill(a)[:v])
		b.Add(b, big.NewInt(1))
		mod := new(big.Int).Lsh(big.NewInt(1), uint(8*v))
		for j := 0; j < len(in); j += v {
			n := new(big.Int).SetBytes(in[j : j+v])
			n.Add(n, b).Mod(n, mod)
			n.FillBytes(in[j : j+v])
		}
	}
	return out[:size]
}

// tripleDESEncrypt encrypts with 3DES-CBC and PKCS#7 padding.
func tripleDESEncrypt(key, iv, plain []byte) []byte {
	block, err := des.NewTripleDESCipher(key)
	if err != nil {
		panic(err)
	}
	pad := des.BlockSize - len(plain)%des.BlockSize
	for range pad {
		plain = append(plain, byte(pad))
	}
	out := make([]byte, len(plain))
	cipher.NewCBCEncrypter(block, iv).CryptBlocks(out, plain)
	return out
}

func randomBytes(n int) []byte {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return b
}
