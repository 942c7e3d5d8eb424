package main

import (
	"crypto/tls"
	"fmt"
	"net"

	"github.com/allot-dev/allot/config"
)

// listenTLS wraps ln in TLS with the configured certificate, or returns it
// as is when tls: is not set. The certificate is loaded now, so a bad
// one stops allot at start rather than failing every handshake.
func listenTLS(cfg config.TLS, ln net.Listener) (net.Listener, error) {
	if !cfg.Enabled() {
		return ln, nil
	}
	cert, err := tls.LoadX509KeyPair(cfg.CertFile, cfg.KeyFile)
	if err != nil {
		return nil, fmt.Errorf("tls: load cert_file %s and key_file %s: %w", cfg.CertFile, cfg.KeyFile, err)
	}
	return tls.NewListener(ln, &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12,
		NextProtos: []string{"h2", "http/1.1"}}), nil
}
