package serve

import (
	"context"
	"time"

	"steady/internal/session"
)

// keysPoll is how often the authorized keys file is looked at for
// changes: a removed or demoted key loses its rights within about this.
const keysPoll = 500 * time.Millisecond

// watchKeys re-reads the authorized keys file whenever it changes and
// applies the change to the clients already connected: a key whose line
// is gone is revoked (journaled, and its sessions end with the reason), a
// key whose role changed gets the new role at once (journaled; its screen
// says so and offers only what the role allows).
func (srv *Server) watchKeys(ctx context.Context) {
	t := time.NewTicker(keysPoll)
	defer t.Stop()
	_, seen, _ := srv.keys.current()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		keys, v, err := srv.keys.current()
		if err != nil {
			// An unreadable or group-writable file refuses new logins
			// (lookup fails closed); it does not end open sessions.
			srv.log.Warn("authorized keys unreadable; new logins are refused", "error", err)
			continue
		}
		if v != seen {
			seen = v
			srv.applyKeys(keys)
		}
	}
}

// applyKeys compares each connected client's key with the file as it is
// now and journals and applies every change of standing.
func (srv *Server) applyKeys(keys []AuthorizedKey) {
	byFP := map[string]AuthorizedKey{}
	for _, k := range keys {
		byFP[k.Fingerprint] = k
	}
	s := srv.o.Session
	done := map[string]bool{}
	for _, c := range srv.clients.all() {
		fp := c.actor.Fingerprint
		if fp == "" || done[fp] {
			continue
		}
		role, ok := s.RoleOf(c.actor)
		if !ok {
			continue // revoked before; its sessions were ended then
		}
		k, listed := byFP[fp]
		switch {
		case !listed:
			done[fp] = true
			why := "its line was removed from " + srv.o.AuthorizedKeys
			if err := s.ChangeAccess(session.Access{Fingerprint: fp, Name: c.actor.Name, Revoked: true, Why: why}); err != nil {
				srv.log.Error("could not journal a revoked key", "fingerprint", fp, "error", err)
			}
			srv.log.Warn("key revoked while connected", "name", c.actor.Name, "fingerprint", fp)
		case k.Role != role:
			done[fp] = true
			why := "the authorized keys now give it role=" + string(k.Role)
			if err := s.ChangeAccess(session.Access{Fingerprint: fp, Name: c.actor.Name, Role: k.Role, Why: why}); err != nil {
				srv.log.Error("could not journal a role change", "fingerprint", fp, "error", err)
			}
			srv.log.Info("role changed while connected", "name", c.actor.Name, "fingerprint", fp, "from", role, "to", k.Role)
		}
	}
	for _, c := range srv.clients.all() {
		if _, ok := s.RoleOf(c.actor); !ok {
			c.end("Your key was removed from the authorized keys: this session ends. Ask the incident's operators if that is a mistake.", exitTempFail)
		}
	}
}
