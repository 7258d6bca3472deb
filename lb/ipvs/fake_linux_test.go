package ipvs

import (
	"fmt"
	"net"
	"net/netip"
	"slices"
	"sort"
	"strings"
	"syscall"

	libipvs "github.com/moby/ipvs"
)

// fakeKernel holds services the way ip_vs_ctl.c does, answering with the
// kernel's errnos and reporting what moby/ipvs would parse back.
type fakeKernel struct {
	svcs   map[string]*fakeSvc // by svcKey.String()
	calls  []string            // mutating calls, in order
	fail   map[string]error    // "NewService tcp:10.0.0.1:80" → error to return
	scheds []string            // schedulers "loaded"; nil = all of Schedulers
}

type fakeSvc struct {
	svc   libipvs.Service
	dests []libipvs.Destination
}

var _ Kernel = (*fakeKernel)(nil)

func newFakeKernel() *fakeKernel {
	return &fakeKernel{svcs: map[string]*fakeSvc{}, fail: map[string]error{}}
}

// keyOf is the kernel's lookup key: family and fwmark, or family,
// protocol, address and port.
func keyOf(s *libipvs.Service) string {
	spec, ok := fromService(s)
	if !ok {
		return fmt.Sprintf("bad family %d", s.AddressFamily)
	}
	return spec.Key.String()
}

func (f *fakeKernel) call(name string, s *libipvs.Service, d *libipvs.Destination) error {
	c := name + " " + keyOf(s)
	if d != nil {
		c += " " + net.JoinHostPort(d.Address.String(), fmt.Sprint(d.Port))
	}
	if strings.HasPrefix(name, "Get") {
		return nil
	}
	f.calls = append(f.calls, c)
	return f.fail[c]
}

// kernelIP is an address as moby/ipvs parses it back: 4 bytes for IPv4.
func kernelIP(ip net.IP) net.IP {
	if v4 := ip.To4(); v4 != nil {
		return slices.Clone(v4)
	}
	return slices.Clone(ip)
}

func (f *fakeKernel) GetServices() ([]*libipvs.Service, error) {
	var out []*libipvs.Service
	for _, k := range sortedKeys(f.svcs) {
		s := f.svcs[k].svc
		s.Flags |= flagHashed
		if s.FWMark != 0 { // the kernel sends only the mark
			s.Address, s.Protocol, s.Port = nil, 0, 0
		} else {
			s.Address = kernelIP(s.Address)
		}
		out = append(out, &s)
	}
	return out, nil
}

func sortedKeys(m map[string]*fakeSvc) []string {
	var ks []string
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

func (f *fakeKernel) GetDestinations(s *libipvs.Service) ([]*libipvs.Destination, error) {
	fs, ok := f.svcs[keyOf(s)]
	if !ok {
		return nil, syscall.ESRCH
	}
	var out []*libipvs.Destination
	for _, d := range fs.dests {
		d.Address = kernelIP(d.Address)
		d.ConnectionFlags &= fwdMask
		out = append(out, &d)
	}
	return out, nil
}

func (f *fakeKernel) NewService(s *libipvs.Service) error {
	if err := f.call("NewService", s, nil); err != nil {
		return err
	}
	k := keyOf(s)
	if _, ok := f.svcs[k]; ok {
		return syscall.EEXIST
	}
	if !f.schedOK(s.SchedName) {
		return syscall.ENOENT // ip_vs_scheduler_get found no module
	}
	f.svcs[k] = &fakeSvc{svc: *s}
	return nil
}

func (f *fakeKernel) schedOK(name string) bool {
	if f.scheds == nil {
		return slices.Contains(Schedulers, name)
	}
	return slices.Contains(f.scheds, name)
}

func (f *fakeKernel) UpdateService(s *libipvs.Service) error {
	if err := f.call("UpdateService", s, nil); err != nil {
		return err
	}
	fs, ok := f.svcs[keyOf(s)]
	if !ok {
		return syscall.ESRCH
	}
	if !f.schedOK(s.SchedName) {
		return syscall.ENOENT
	}
	fs.svc.SchedName, fs.svc.Flags, fs.svc.Timeout, fs.svc.Netmask = s.SchedName, s.Flags, s.Timeout, s.Netmask
	return nil
}

func (f *fakeKernel) DelService(s *libipvs.Service) error {
	if err := f.call("DelService", s, nil); err != nil {
		return err
	}
	k := keyOf(s)
	if _, ok := f.svcs[k]; !ok {
		return syscall.ESRCH
	}
	delete(f.svcs, k)
	return nil
}

func (f *fakeKernel) dest(s *libipvs.Service, d *libipvs.Destination) (*fakeSvc, int, error) {
	fs, ok := f.svcs[keyOf(s)]
	if !ok {
		return nil, 0, syscall.ESRCH
	}
	return fs, slices.IndexFunc(fs.dests, func(x libipvs.Destination) bool {
		return x.Address.Equal(d.Address) && x.Port == d.Port
	}), nil
}

func (f *fakeKernel) NewDestination(s *libipvs.Service, d *libipvs.Destination) error {
	if err := f.call("NewDestination", s, d); err != nil {
		return err
	}
	fs, i, err := f.dest(s, d)
	switch {
	case err != nil:
		return err
	case i >= 0:
		return syscall.EEXIST
	}
	fs.dests = append(fs.dests, *d)
	return nil
}

func (f *fakeKernel) UpdateDestination(s *libipvs.Service, d *libipvs.Destination) error {
	if err := f.call("UpdateDestination", s, d); err != nil {
		return err
	}
	fs, i, err := f.dest(s, d)
	switch {
	case err != nil:
		return err
	case i < 0:
		return syscall.ENOENT
	}
	fs.dests[i] = *d
	return nil
}

func (f *fakeKernel) DelDestination(s *libipvs.Service, d *libipvs.Destination) error {
	if err := f.call("DelDestination", s, d); err != nil {
		return err
	}
	fs, i, err := f.dest(s, d)
	switch {
	case err != nil:
		return err
	case i < 0:
		return syscall.ENOENT
	}
	fs.dests = slices.Delete(fs.dests, i, i+1)
	return nil
}

// takeCalls returns the mutating calls since the last takeCalls.
func (f *fakeKernel) takeCalls() []string {
	c := f.calls
	f.calls = nil
	return c
}

// dump lists k's services and real servers, sorted, one per line, read
// through the Kernel interface (so through fromService and fromDest), the
// way `ipvsadm -Ln` would show them.
func dump(k Kernel) (string, error) {
	svcs, err := k.GetServices()
	if err != nil {
		return "", err
	}
	var lines []string
	for _, s := range svcs {
		sp, ok := fromService(s)
		if !ok {
			return "", fmt.Errorf("service of family %d", s.AddressFamily)
		}
		line := fmt.Sprintf("%s %s", sp.Key, sp.Sched)
		if sp.Flags&flagPersistent != 0 {
			line += fmt.Sprintf(" persistent %d mask %s", sp.Timeout, maskString(sp.Netmask, sp.Key.V6))
		}
		ds, err := k.GetDestinations(s)
		if err != nil {
			return "", err
		}
		var dl []string
		for _, d := range ds {
			dd, err := fromDest(d)
			if err != nil {
				return "", err
			}
			dl = append(dl, fmt.Sprintf("  -> %s %s %d", netip.AddrPortFrom(dd.Addr, dd.Port), fwdName(dd.Fwd), dd.Weight))
		}
		sort.Strings(dl)
		lines = append(lines, strings.Join(append([]string{line}, dl...), "\n"))
	}
	if len(lines) == 0 {
		return "", nil
	}
	sort.Strings(lines)
	return strings.Join(lines, "\n") + "\n", nil
}
