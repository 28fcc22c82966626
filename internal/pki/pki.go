// Package pki makes and loads the certificates of a region's cluster port:
// a region CA, and a certificate per node signed by it, each good both as
// a server's and a client's (nodes dial each other). talonctl makes them
// with Go's crypto/x509 alone; talond and the tests load them.
//
// A peer is trusted when its certificate chains to the region CA: node
// names and addresses are not checked, so a node may move to another
// address. Guard the CA's key: whoever holds it can join the region.
package pki

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"time"
)

// NewCA makes a region CA, valid for ten years.
func NewCA(region string) (certPEM, keyPEM []byte, err error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial(),
		Subject:               pkix.Name{Organization: []string{"talon"}, CommonName: "talon region CA " + region},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().AddDate(10, 0, 0),
		IsCA:                  true,
		BasicConstraintsValid: true,
		MaxPathLenZero:        true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, nil, err
	}
	return encode(der, key)
}

// Issue makes node id's certificate, signed by the CA, for the given host
// names and IP addresses (informative: peers check the chain, not names),
// valid for two years.
func Issue(caCertPEM, caKeyPEM []byte, id string, hosts []string) (certPEM, keyPEM []byte, err error) {
	ca, err := tls.X509KeyPair(caCertPEM, caKeyPEM)
	if err != nil {
		return nil, nil, fmt.Errorf("region CA: %w", err)
	}
	caCert, err := x509.ParseCertificate(ca.Certificate[0])
	if err != nil {
		return nil, nil, err
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial(),
		Subject:      pkix.Name{Organization: []string{"talon"}, CommonName: id},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().AddDate(2, 0, 0),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
	}
	for _, h := range hosts {
		if ip := net.ParseIP(h); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else if h != "" {
			tmpl.DNSNames = append(tmpl.DNSNames, h)
		}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, caCert, &key.PublicKey, ca.PrivateKey)
	if err != nil {
		return nil, nil, err
	}
	return encode(der, key)
}

// Files are the names of a node's files in its TLS folder.
const (
	CAFile   = "ca.crt"
	CertFile = "node.crt"
	KeyFile  = "node.key"
)

// Load reads a node's TLS folder (the region CA's certificate, the node's
// certificate and key) and returns the TLS configurations of its cluster
// port: one for accepting (a client certificate of the region is required)
// and one for dialing. A Kubernetes TLS secret's names (tls.crt, tls.key
// beside ca.crt, as cert-manager writes them) are read when node.crt is
// absent.
func Load(dir string) (server, client *tls.Config, err error) {
	names := []string{CAFile, CertFile, KeyFile}
	if _, err := os.Stat(filepath.Join(dir, CertFile)); errors.Is(err, fs.ErrNotExist) {
		names = []string{CAFile, "tls.crt", "tls.key"}
	}
	var pems [3][]byte
	for i, name := range names {
		if pems[i], err = os.ReadFile(filepath.Join(dir, name)); err != nil {
			return nil, nil, err
		}
	}
	return Configs(pems[0], pems[1], pems[2])
}

// Configs are the TLS configurations of a node's cluster port from its
// PEM blocks.
func Configs(caPEM, certPEM, keyPEM []byte) (server, client *tls.Config, err error) {
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(caPEM) {
		return nil, nil, errors.New("pki: no CA certificate")
	}
	pair, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return nil, nil, err
	}
	server = &tls.Config{
		MinVersion:   tls.VersionTLS13,
		Certificates: []tls.Certificate{pair},
		ClientAuth:   tls.RequireAndVerifyClientCert,
		ClientCAs:    pool,
	}
	client = &tls.Config{
		MinVersion:   tls.VersionTLS13,
		Certificates: []tls.Certificate{pair},
		// The chain is checked below; names are not (a node may move).
		InsecureSkipVerify: true,
		VerifyConnection: func(cs tls.ConnectionState) error {
			if len(cs.PeerCertificates) == 0 {
				return errors.New("pki: the peer sent no certificate")
			}
			_, err := cs.PeerCertificates[0].Verify(x509.VerifyOptions{Roots: pool, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}})
			return err
		},
	}
	return server, client, nil
}

func serial() *big.Int {
	n, _ := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	return n
}

func encode(der []byte, key *ecdsa.PrivateKey) (certPEM, keyPEM []byte, err error) {
	k, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return nil, nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: k}), nil
}

// WriteNode writes a node's TLS folder: the CA's certificate (not its
// key), the node's certificate and its key (0600).
func WriteNode(dir string, caCertPEM, certPEM, keyPEM []byte) error {
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return err
	}
	for _, f := range []struct {
		name string
		data []byte
		mode os.FileMode
	}{{CAFile, caCertPEM, 0o644}, {CertFile, certPEM, 0o644}, {KeyFile, keyPEM, 0o600}} {
		if err := os.WriteFile(filepath.Join(dir, f.name), f.data, f.mode); err != nil {
			return err
		}
	}
	return nil
}

// Region is a region CA at hand, for tools and tests that issue the
// certificates of several nodes.
type Region struct{ CACert, CAKey []byte }

// NewRegion makes a region CA.
func NewRegion(name string) (*Region, error) {
	c, k, err := NewCA(name)
	return &Region{c, k}, err
}

// Node issues node id's certificate and returns its TLS configurations.
func (r *Region) Node(id string, hosts ...string) (server, client *tls.Config, err error) {
	c, k, err := Issue(r.CACert, r.CAKey, id, hosts)
	if err != nil {
		return nil, nil, err
	}
	return Configs(r.CACert, c, k)
}

// WriteNode issues node id's certificate into its TLS folder dir.
func (r *Region) WriteNode(dir, id string, hosts ...string) error {
	c, k, err := Issue(r.CACert, r.CAKey, id, hosts)
	if err != nil {
		return err
	}
	return WriteNode(dir, r.CACert, c, k)
}
