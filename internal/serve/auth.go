package serve

import (
	"errors"
	"fmt"

	"charm.land/ssh"
	gossh "golang.org/x/crypto/ssh"

	"steady/internal/session"
)

// Permission extensions carrying the identity of the key that
// authenticated. x/crypto/ssh hands a connection the permissions returned
// for the key that actually signed, so an identity kept here, rather than
// in the connection's context, cannot be one of a key that was only
// offered (the misuse behind CVE-2024-45337).
const (
	extName        = "steady-name"
	extRole        = "steady-role"
	extFingerprint = "steady-fingerprint"
)

// checkKey is the public-key callback: the offered key is checked against
// authorized_keys here, and its identity recorded in the permissions of
// this very attempt.
func (srv *Server) checkKey(ctx ssh.Context, offered ssh.PublicKey) bool {
	fp := gossh.FingerprintSHA256(offered)
	log := srv.log.With("user", ctx.User(), "remote", addrString(ctx.RemoteAddr()), "fingerprint", fp, "key_type", offered.Type())
	if _, ok := offered.(*gossh.Certificate); ok {
		log.Warn("key refused", "reason", "certificates are not supported")
		return false
	}
	k, ok := srv.keys.lookup(offered)
	if !ok {
		log.Warn("key refused", "reason", "not in the authorized keys file", "file", srv.o.AuthorizedKeys)
		return false
	}
	perms := ctx.Permissions()
	if perms.Extensions == nil {
		perms.Extensions = map[string]string{}
	}
	perms.Extensions[extName] = k.Name
	perms.Extensions[extRole] = string(k.Role)
	perms.Extensions[extFingerprint] = k.Fingerprint
	return true
}

// errIdentity says a session's key and its recorded identity disagree.
var errIdentity = errors.New("the key that authenticated is not the key that was checked")

// identify returns who a session is: the name from the key's
// authorized_keys comment (or, for a key without one, the SSH user name,
// which the client chooses), the key's role and its fingerprint. It
// re-derives the fingerprint from the key the connection authenticated
// with and refuses a session whose recorded identity belongs to another.
func identify(s ssh.Session) (session.Actor, error) {
	pk := s.PublicKey()
	if pk == nil {
		return session.Actor{}, errors.New("the session did not authenticate with a public key")
	}
	ext := s.Permissions().Extensions
	fp := gossh.FingerprintSHA256(pk)
	if ext[extFingerprint] != fp {
		return session.Actor{}, fmt.Errorf("%w (%s)", errIdentity, fp)
	}
	name := ext[extName]
	if name == "" {
		name = s.User()
	}
	role := session.Role(ext[extRole])
	if role != session.Operator && role != session.Approver {
		role = session.Observer
	}
	return session.Actor{Name: name, Via: "ssh", Fingerprint: fp, Role: role}, nil
}
