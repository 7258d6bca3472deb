package nft

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"

	"github.com/google/nftables"
	"github.com/vipd/vipd/lb/dataplane"
)

// Plane owns one nftables table and keeps it equal to the last State given
// to Apply.
type Plane struct {
	mu    sync.Mutex // serializes Apply and Remove: each reads, then sends one batch
	conn  *nftables.Conn
	table *nftables.Table
	netns string // for Dump: the named namespace conn points into, "" = ours
}

// New returns a Plane for table (DefaultTable if "") of family ip, using
// conn (which may point into another namespace, see nftables.WithNetNSFd).
func New(conn *nftables.Conn, table string) *Plane {
	if table == "" {
		table = DefaultTable
	}
	return &Plane{conn: conn, table: &nftables.Table{Name: table, Family: nftables.TableFamilyIPv4}}
}

// SetNetNS names the namespace conn points into, so that Dump runs nft
// there (`ip netns exec NAME nft ...`).
func (p *Plane) SetNetNS(name string) { p.netns = name }

// Apply replaces the table with the rules for st in one atomic batch
// (add table, delete table, add everything): packets see the old rules or
// the new ones, never a mix, and established flows keep their conntrack
// NAT bindings. Persistence entries are read back first and re-added with
// their remaining lifetime; one made between the read and the commit is
// lost (that client is balanced afresh).
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
	p.conn.AddTable(p.table) // so that the delete cannot fail on a first Apply
	p.conn.DelTable(p.table)
	if err := prog.send(p.conn); err != nil {
		return fmt.Errorf("nft: %w", err)
	}
	if err := p.conn.Flush(); err != nil {
		return fmt.Errorf("nft: apply table %s: %w", p.table.Name, err)
	}
	return nil
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

// Remove deletes the table; it is not an error if there is none. Call it
// on exit and at start (after a crash).
func (p *Plane) Remove() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.conn.AddTable(p.table)
	p.conn.DelTable(p.table)
	if err := p.conn.Flush(); err != nil {
		return fmt.Errorf("nft: remove table %s: %w", p.table.Name, err)
	}
	return nil
}

// Dump returns `nft list table ip TABLE`, for golden tests and debugging.
func (p *Plane) Dump() (string, error) {
	argv := []string{"nft", "list", "table", "ip", p.table.Name}
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
