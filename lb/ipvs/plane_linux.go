package ipvs

import (
	"bytes"
	"errors"
	"fmt"
	"maps"
	"os/exec"
	"sync"
	"syscall"

	libipvs "github.com/moby/ipvs"
	"github.com/vipd/vipd/lb/dataplane"
)

// Plane programs IPVS virtual services and keeps them equal to the last
// State given to Apply. It owns only the services it made, listed in its
// state file; every other service in the kernel is left alone.
type Plane struct {
	mu    sync.Mutex // serializes Apply and Remove (each reads, then writes) and guards own
	k     Kernel
	close func() // closes the handle New opened; nil for NewWithKernel
	path  string
	own   owned // the services the plane made, as the state file at path lists them
	dirty bool  // the last write of the state file failed: write it again
}

var _ dataplane.Plane = (*Plane)(nil)

// New opens IPVS in the current network namespace, with the state file at
// statePath (DefaultStatePath if ""). Like keepalived, it tries to load
// the ip_vs module when /proc/net/ip_vs is missing; if IPVS is still
// missing it returns an error wrapping ErrUnavailable.
func New(statePath string) (*Plane, error) {
	if Available() != nil {
		// keepalived runs modprobe too (ipvswrapper.c); failure is normal on
		// kernels without modules and is reported through ErrUnavailable.
		out, merr := exec.Command("modprobe", "ip_vs").CombinedOutput()
		if err := Available(); err != nil {
			if out = bytes.TrimSpace(out); len(out) > 0 {
				return nil, fmt.Errorf("%w (modprobe ip_vs: %v: %s)", err, merr, out)
			}
			return nil, fmt.Errorf("%w (modprobe ip_vs: %v)", err, merr)
		}
	}
	h, err := libipvs.New("")
	if err != nil {
		return nil, fmt.Errorf("ipvs: netlink: %w", err)
	}
	p, err := NewWithKernel(h, statePath)
	if err != nil {
		h.Close()
		return nil, err
	}
	p.close = h.Close
	return p, nil
}

// NewWithKernel returns a Plane that programs k (a *libipvs.Handle, maybe
// opened in another network namespace, or a fake) and keeps its list of
// services at statePath (DefaultStatePath if ""). It fails if the state
// file exists but cannot be read.
func NewWithKernel(k Kernel, statePath string) (*Plane, error) {
	if statePath == "" {
		statePath = DefaultStatePath
	}
	own, err := loadOwned(statePath)
	if err != nil {
		return nil, fmt.Errorf("ipvs: %w", err)
	}
	return &Plane{k: k, path: statePath, own: own}, nil
}

// Name reports the plane's kind for logs and status.
func (p *Plane) Name() string { return "ipvs" }

// Close releases the netlink handle New opened. The services stay; call
// Remove first to delete them.
func (p *Plane) Close() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.close != nil {
		p.close()
		p.close = nil
	}
	return nil
}

// Apply makes the kernel hold exactly st's services among those the plane
// owns, sending only the commands that change something (none when
// nothing differs). A desired service that collides with one vipd did not
// make is skipped and reported (ErrConflict); the others are applied. A
// failing command does not stop the commands for other services; all
// failures are returned together. An invalid st changes nothing.
func (p *Plane) Apply(st State) error {
	desired, err := translateState(st)
	if err != nil {
		return fmt.Errorf("ipvs: %w", err)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	kernel, err := p.read()
	if err != nil {
		return err
	}
	current, apply, conflicts := reconcile(kernel, p.own, desired)
	return errors.Join(conflicts, p.run(diff(current, apply), current, apply))
}

// read returns every service in the kernel, with the real servers of those
// the plane owns.
func (p *Plane) read() ([]svcSpec, error) {
	ks, err := p.k.GetServices()
	if err != nil {
		return nil, fmt.Errorf("ipvs: list services: %w", err)
	}
	var out []svcSpec
	for _, ks := range ks {
		spec, ok := fromService(ks)
		if !ok {
			continue
		}
		if _, mine := p.own[spec.Key.String()]; mine {
			ds, err := p.k.GetDestinations(ks)
			if err != nil && !gone(err) { // gone: deleted meanwhile
				return nil, fmt.Errorf("ipvs: list real servers of %s: %w", spec.Key, err)
			}
			for _, d := range ds {
				dst, err := fromDest(d)
				if err != nil {
					return nil, fmt.Errorf("ipvs: %s: %w", spec.Key, err)
				}
				spec.Dests = append(spec.Dests, dst)
			}
		}
		out = append(out, spec)
	}
	return out, nil
}

// run sends ops. The state file lists a new service before it is made, so
// that a crash in between leaves a listed but missing service (harmless:
// it is made again or dropped) and never an unlisted vipd service (which a
// restarted vipd would take for an operator's).
func (p *Plane) run(ops []op, current, apply []svcSpec) error {
	before := maps.Clone(p.own)
	for _, s := range apply {
		p.own[s.Key.String()] = s.Name
	}
	if !maps.Equal(before, p.own) || p.dirty {
		if err := p.save(); err != nil {
			p.own = before // nothing made
			return err
		}
	}

	var errs []error
	failed := map[svcKey]bool{}  // skip the rest of a service whose create or update failed
	notMade := map[svcKey]bool{} // creates that failed: not ours
	deleted := map[svcKey]bool{}
	for _, o := range ops {
		if failed[o.Svc.Key] {
			continue
		}
		err := p.do(o)
		if err == nil || (o.Kind == opDelService || o.Kind == opDelDest) && gone(err) {
			if o.Kind == opDelService {
				deleted[o.Svc.Key] = true
			}
			continue
		}
		name := o.Svc.Name
		if name == "" { // a stale service, read from the kernel
			name = before[o.Svc.Key.String()]
		}
		errs = append(errs, fmt.Errorf("ipvs: service %q (%s): %s: %w", name, o.Svc.Key, o, hint(o, err)))
		switch o.Kind {
		case opNewService:
			notMade[o.Svc.Key] = true
			failed[o.Svc.Key] = true
		case opUpdateService:
			failed[o.Svc.Key] = true
		}
	}

	// Owned from now on: the desired services that exist, and the stale
	// ones that could not be deleted (to be retried).
	next := owned{}
	for _, s := range apply {
		if !notMade[s.Key] {
			next[s.Key.String()] = s.Name
		}
	}
	for _, s := range current {
		if k := s.Key.String(); !deleted[s.Key] {
			if _, ok := next[k]; !ok {
				next[k] = before[k]
			}
		}
	}
	if !maps.Equal(next, p.own) || p.dirty {
		p.own = next
		if err := p.save(); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// save writes p.own to the state file, remembering a failure so that the
// next Apply or Remove writes it again.
func (p *Plane) save() error {
	err := p.own.save(p.path)
	p.dirty = err != nil
	if err != nil {
		return fmt.Errorf("ipvs: %w", err)
	}
	return nil
}

func (p *Plane) do(o op) error {
	s := toService(o.Svc)
	switch o.Kind {
	case opNewService:
		return p.k.NewService(s)
	case opUpdateService:
		return p.k.UpdateService(s)
	case opDelService:
		return p.k.DelService(s)
	case opNewDest:
		return p.k.NewDestination(s, toDest(o.Dest))
	case opUpdateDest:
		return p.k.UpdateDestination(s, toDest(o.Dest))
	case opDelDest:
		return p.k.DelDestination(s, toDest(o.Dest))
	}
	return fmt.Errorf("unknown op %d", o.Kind)
}

// gone reports the kernel's answers for a service (ESRCH) or real server
// (ENOENT) that is not there: a delete that finds nothing is done.
func gone(err error) bool {
	return errors.Is(err, syscall.ESRCH) || errors.Is(err, syscall.ENOENT)
}

// hint explains the kernel's terse errno where the cause is known.
func hint(o op, err error) error {
	if (o.Kind == opNewService || o.Kind == opUpdateService) && errors.Is(err, syscall.ENOENT) {
		return fmt.Errorf("%w (no scheduler %q: is the ip_vs_%s module available?)", err, o.Svc.Sched, o.Svc.Sched)
	}
	return err
}

// Remove deletes the services the plane made (listed in its state file),
// with their real servers, and nothing else; the state file goes too. Call
// it at exit and at start, to clear what a crashed vipd left. Services it
// could not delete stay listed, for the next Remove.
func (p *Plane) Remove() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.own) == 0 && !p.dirty {
		return nil
	}
	ks, err := p.k.GetServices()
	if err != nil {
		return fmt.Errorf("ipvs: list services: %w", err)
	}
	var errs []error
	next := owned{}
	for _, ks := range ks {
		spec, ok := fromService(ks)
		if !ok {
			continue
		}
		k := spec.Key.String()
		name, mine := p.own[k]
		if !mine {
			continue
		}
		if err := p.k.DelService(ks); err != nil && !gone(err) {
			errs = append(errs, fmt.Errorf("ipvs: remove service %q (%s): %w", name, k, err))
			next[k] = name
		}
	}
	p.own = next
	if err := p.save(); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// Validate implements dataplane.Validator.
func (p *Plane) Validate(s Service) error {
	_, err := translate(s)
	return err
}

var _ dataplane.Validator = (*Plane)(nil)
