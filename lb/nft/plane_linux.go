package nft

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"strings"
	"sync"

	"github.com/google/nftables"
	mnl "github.com/mdlayher/netlink"
	"github.com/vipd/vipd/lb/dataplane"
	"golang.org/x/sys/unix"
)

// Plane owns one nftables table and keeps it equal to the last State given
// to Apply.
type Plane struct {
	mu    sync.Mutex // serializes Apply and Remove: each reads, then sends one batch
	conn  *nftables.Conn
	table *nftables.Table // ip family: the NAT services
	dr    *nftables.Table // netdev family: the DR services
	netns string          // the named namespace conn points into, "" = ours
}

// New returns a Plane for table (DefaultTable if "") of family ip, and
// for table+DRSuffix of family netdev for DR services, using conn (which
// may point into another namespace, see nftables.WithNetNSFd; then call
// SetNetNS).
func New(conn *nftables.Conn, table string) *Plane {
	if table == "" {
		table = DefaultTable
	}
	return &Plane{conn: conn, table: &nftables.Table{Name: table, Family: nftables.TableFamilyIPv4},
		dr: &nftables.Table{Name: table + DRSuffix, Family: nftables.TableFamilyNetdev}}
}

// SetNetNS names the namespace conn points into, so that Dump runs nft
// there (`ip netns exec NAME nft ...`) and DR services look up their
// device and real servers' MAC addresses there.
func (p *Plane) SetNetNS(name string) { p.netns = name }

// Apply replaces the table with the rules for st in one atomic batch
// (add table, delete table, add everything): packets see the old rules or
// the new ones, never a mix, and established flows keep their conntrack
// NAT bindings. Persistence entries are read back first and re-added with
// their remaining lifetime; one made between the read and the commit is
// lost (that client is balanced afresh).
//
// DR services go into the netdev table in the same batch. Their real
// servers' MAC addresses come from the neighbour table of Dev; unknown
// ones are resolved first (waiting up to a second). A real server still
// without a MAC, or a service whose Dev is missing, is left out and the
// rest applied: the error then wraps ErrUnresolved and lists them.
func (p *Plane) Apply(st State) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	carried := map[string][]nftables.SetElement{}
	for _, s := range st.Services {
		if s.Persistence <= 0 {
			continue
		}
		for _, b := range s.Backends {
			set, err := p.conn.GetSetByName(p.table, persistName(s.Name, b))
			if err != nil {
				continue // absent: first Apply, new backend, or persistence just enabled
			}
			elems, err := p.conn.GetSetElements(set)
			if err != nil {
				return fmt.Errorf("nft: read %s: %w", set.Name, err)
			}
			carried[set.Name] = elems
		}
	}
	prog, err := build(st, p.table.Name, carried)
	if err != nil {
		return fmt.Errorf("nft: %w", err)
	}
	drProg, missing, err := p.buildDR(st)
	if err != nil {
		return fmt.Errorf("nft: %w", err)
	}
	for _, t := range p.tables(drProg != nil) {
		p.conn.AddTable(t) // so that the delete cannot fail on a first Apply
		p.conn.DelTable(t)
	}
	for _, pr := range []*program{prog, drProg} {
		if pr == nil {
			continue
		}
		if err := pr.send(p.conn); err != nil {
			return fmt.Errorf("nft: %w", err)
		}
	}
	if err := p.conn.Flush(); err != nil {
		return fmt.Errorf("nft: apply tables %s and %s: %w", p.table.Name, p.dr.Name, err)
	}
	if missing != nil {
		return fmt.Errorf("nft: %w: %w", ErrUnresolved, missing)
	}
	return nil
}

// buildDR resolves what the DR services of st need and builds their
// table: nil if there are none. missing lists what was left out.
func (p *Plane) buildDR(st State) (prog *program, missing, err error) {
	if !slices.ContainsFunc(st.Services, func(s Service) bool { return isDR(&s) }) {
		return nil, nil, nil
	}
	n, err := p.openNetlink()
	if err != nil {
		return nil, nil, fmt.Errorf("netlink: %w", err)
	}
	defer n.close()
	env, err := n.resolve(st, resolveTimeout)
	if err != nil {
		return nil, nil, err
	}
	prog, missing = buildDR(st, p.dr.Name, env)
	return prog, missing, nil
}

func (prog *program) send(c *nftables.Conn) error {
	c.AddTable(prog.table)
	for _, ch := range prog.chains {
		c.AddChain(ch)
	}
	for _, s := range prog.sets {
		if err := c.AddSet(s.set, s.elems); err != nil {
			return fmt.Errorf("set %s: %w", s.set.Name, err)
		}
	}
	for _, r := range prog.rules {
		c.AddRule(r)
	}
	return nil
}

// Remove deletes both tables; it is not an error if there are none. Call
// it on exit and at start (after a crash).
func (p *Plane) Remove() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, t := range p.tables(false) {
		p.conn.AddTable(t)
		p.conn.DelTable(t)
	}
	if err := p.conn.Flush(); err != nil {
		return fmt.Errorf("nft: remove tables %s and %s: %w", p.table.Name, p.dr.Name, err)
	}
	return nil
}

// tables lists the tables a batch replaces or removes: the netdev one
// only if it is wanted or there, so that NAT alone never needs the
// netdev family.
func (p *Plane) tables(dr bool) []*nftables.Table {
	if !dr {
		if _, err := p.conn.ListTableOfFamily(p.dr.Name, nftables.TableFamilyNetdev); err != nil {
			return []*nftables.Table{p.table}
		}
	}
	return []*nftables.Table{p.table, p.dr}
}

// Dump returns `nft list table ip TABLE`, followed by `nft list table
// netdev TABLE_dr` if there is one, for golden tests and debugging.
func (p *Plane) Dump() (string, error) {
	out, err := p.list("ip", p.table.Name)
	if err != nil {
		return "", err
	}
	if _, err := p.conn.ListTableOfFamily(p.dr.Name, nftables.TableFamilyNetdev); err != nil {
		return out, nil // no DR services
	}
	dr, err := p.list("netdev", p.dr.Name)
	return out + dr, err
}

func (p *Plane) list(family, table string) (string, error) {
	argv := []string{"nft", "list", "table", family, table}
	if p.netns != "" {
		argv = append([]string{"ip", "netns", "exec", p.netns}, argv...)
	}
	cmd := exec.Command(argv[0], argv[1:]...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("nft: %q: %w: %s", argv, err, strings.TrimSpace(stderr.String()))
	}
	return string(out), nil
}

// errNoIPVS is what IPVSAvailable reports on a kernel without IPVS.
var errNoIPVS = errors.New("IPVS not available in this kernel (needs ip_vs module); use lb_dataplane nftables")

// IPVSAvailable reports whether the kernel has IPVS (/proc/net/ip_vs).
func IPVSAvailable() error { return ipvsAvailable("/proc/net/ip_vs") }

func ipvsAvailable(path string) error {
	if _, err := os.Stat(path); err != nil {
		return fmt.Errorf("%w: %w", errNoIPVS, err)
	}
	return nil
}

// Available reports whether this network namespace can run the nftables
// data plane: it sends one batch that adds a probe table with a nat chain
// (the kernel needs nf_tables and nf_nat for it) and deletes it again, so
// nothing stays behind.
func Available() error {
	c, err := nftables.New()
	if err != nil {
		return fmt.Errorf("nft: netlink: %w", err)
	}
	t := &nftables.Table{Name: fmt.Sprintf("vipd_probe_%d", os.Getpid()), Family: nftables.TableFamilyIPv4}
	c.AddTable(t)
	c.AddChain(&nftables.Chain{Name: "probe", Table: t, Type: nftables.ChainTypeNAT,
		Hooknum: nftables.ChainHookPrerouting, Priority: nftables.ChainPriorityNATDest})
	c.DelTable(t)
	if err := c.Flush(); err != nil {
		return fmt.Errorf("nftables with NAT not available in this kernel (needs nf_tables and nf_nat): %w", err)
	}
	return nil
}

// Name reports the plane's kind for logs and status.
func (p *Plane) Name() string { return "nftables" }

var _ dataplane.Plane = (*Plane)(nil)

// Validate implements dataplane.Validator.
func (p *Plane) Validate(s Service) error { return validateService(&s) }

var _ dataplane.Validator = (*Plane)(nil)

// batchBuffer is the netlink send buffer Dial asks for. A batch goes out
// in one sendmsg, which the kernel refuses (EMSGSIZE) beyond the socket's
// send buffer: the default ~200 KiB holds a few hundred real servers, a
// thousand need about 1 MiB. nft(8) sizes its buffer the same way.
const batchBuffer = 32 << 20

// Dial opens an nftables connection whose batches may be as large as the
// biggest State needs (SO_SNDBUFFORCE, root or CAP_NET_ADMIN); opts are
// passed on (e.g. nftables.WithNetNSFd).
func Dial(opts ...nftables.ConnOption) (*nftables.Conn, error) {
	opts = append(opts, nftables.WithSockOptions(func(c *mnl.Conn) error {
		rc, err := c.SyscallConn()
		if err != nil {
			return err
		}
		var serr error
		if err := rc.Control(func(fd uintptr) {
			serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_SNDBUFFORCE, batchBuffer)
			if serr == nil {
				serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, batchBuffer)
			}
		}); err != nil {
			return err
		}
		if serr != nil {
			return fmt.Errorf("nft: netlink buffers: %w", serr)
		}
		return nil
	}))
	return nftables.New(opts...)
}
