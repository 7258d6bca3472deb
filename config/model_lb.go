package config

import (
	"net/netip"
	"time"
)

// Checker kinds for Checker.Kind.
const (
	CheckTCP  = "TCP_CHECK"
	CheckHTTP = "HTTP_GET"
	CheckSSL  = "SSL_GET"
	CheckMisc = "MISC_CHECK"
	CheckDNS  = "DNS_CHECK"
	CheckFile = "FILE_CHECK"
	CheckPing = "PING_CHECK"
	CheckUDP  = "UDP_CHECK"
	CheckSMTP = "SMTP_CHECK"
)

// DefaultSMTPHelo is keepalived's SMTP_CHECK helo_name (check_smtp.h).
const DefaultSMTPHelo = "smtpchecker.keepalived.org"

// VirtualServerGroup is a virtual_server_group.
type VirtualServerGroup struct {
	Pos     Pos
	Name    string
	Entries []VSGroupEntry
}

// VSGroupEntry is "IP PORT", "IP-LAST PORT" (a range whose last address
// part is LAST) or "fwmark N".
type VSGroupEntry struct {
	Pos    Pos
	Addr   netip.Addr // first address
	Last   netip.Addr // last address of a range; equals Addr otherwise
	Port   uint16
	FWMark uint32
}

// VirtualServer is a virtual_server. Exactly one of Addr, FWMark and
// Group identifies it.
type VirtualServer struct {
	Pos    Pos
	Addr   netip.Addr
	Port   uint16
	FWMark uint32
	Group  string

	DelayLoop              time.Duration // default 60s
	LBAlgo                 string        // default "wlc", as keepalived
	LBKind                 string        // NAT|DR|TUN, default NAT
	PersistenceTimeout     time.Duration // 0 = no persistence
	PersistenceGranularity netip.Addr    // netmask, invalid when unset
	Protocol               string        // TCP|UDP|SCTP, default TCP
	SorryServer            *SorryServer
	// InhibitOnFailure is the default for the real servers' own
	// inhibit_on_failure.
	InhibitOnFailure bool
	Quorum           int // default 1
	Hysteresis       int
	QuorumUp         string
	QuorumDown       string
	Alpha            bool
	Omega            bool
	HASuspend        bool
	// SNAT (vipd's `snat`, not keepalived's) masquerades NAT flows towards
	// the real servers, for setups where the director is not their gateway.
	SNAT        bool
	Virtualhost string
	// IPFamily is ip_family: "inet", "inet6" or "" (from the addresses;
	// a fwmark service with neither falls back to its real servers', then
	// inet, as keepalived).
	IPFamily    string
	RealServers []*RealServer
}

// SorryServer is the server used when the quorum is lost.
type SorryServer struct {
	Addr    netip.Addr
	Port    uint16 // 0 with a fwmark (or group) and no port written
	Inhibit bool   // sorry_server_inhibit: keep it at weight 0 instead of removing it
}

// RealServer is a real_server.
type RealServer struct {
	Pos  Pos
	Addr netip.Addr
	// Port is as written, else the virtual server's; 0 for a port-less
	// server of a fwmark or group virtual server (see serverPorts).
	Port             uint16
	Weight           int // default 1
	InhibitOnFailure bool
	NotifyUp         string
	NotifyDown       string
	Checkers         []*Checker
}

// Checker is one health checker of a real server. Unset timing values are
// inherited from the real server, then the virtual server, then keepalived's
// per-kind default.
type Checker struct {
	Pos              Pos
	Kind             string
	ConnectIP        netip.Addr // default the real server's address
	ConnectPort      uint16     // default the real server's port
	BindTo           netip.Addr
	ConnectTimeout   time.Duration // default 5s
	Retry            int           // default 1; MISC_CHECK 0; DNS_CHECK 3
	DelayBeforeRetry time.Duration // default 1s; HTTP/SSL 3s; DNS delay_loop
	DelayLoop        time.Duration // default the virtual server's
	Warmup           time.Duration // default DelayLoop
	URLs             []URL         // HTTP_GET, SSL_GET
	MiscPath         string        // MISC_CHECK command line
	MiscTimeout      time.Duration // default DelayLoop
	MiscDynamic      bool
	DNSType          string // DNS_CHECK, default "SOA"
	DNSName          string // DNS_CHECK, default "."
	FileName         string // FILE_CHECK: the vrrp_track_file it reads
	FilePath         string // FILE_CHECK: that track file's path (resolved)
	// FileWeight and FileReverse are FILE_CHECK's "weight N [reverse]",
	// default the track file's own (check_file.c file_end_handler).
	FileWeight  int
	FileReverse bool
	// UDP_CHECK: Payload is sent (nil: keepalived's 32-byte filler).
	// With RequireReply a reply must come; with Reply it must also be
	// MinReply..MaxReply bytes long and match Reply where ReplyMask (if
	// any) has zero bits, over the shorter of the two.
	UDPPayload      []byte
	UDPRequireReply bool
	UDPReply        []byte
	UDPReplyMask    []byte
	UDPMinReply     int    // default 0
	UDPMaxReply     int    // default 255
	SMTPHelo        string // SMTP_CHECK helo_name, default DefaultSMTPHelo
	// HTTP_GET/SSL_GET: http_protocol (HTTP10 by default); SSL_GET: SNI
	// (enable_sni), sent as SNIName, else the url's virtualhost; SSL is
	// the top-level SSL block, for SSL_GET only.
	HTTPProtocol string
	SNI          bool
	SNIName      string
	SSL          *SSLClient
}

// URL is a url block of HTTP_GET or SSL_GET.
type URL struct {
	Pos         Pos
	Path        string
	Digest      string
	StatusCodes []CodeRange // default 200-299
	Virtualhost string
	// Regex is the Go pattern of regex, regex_options flags included;
	// "" means none. A body matches when the pattern is found starting at
	// RegexMinOffset or later and before RegexMaxOffset (regex_max_offset
	// + 1, as keepalived stores it; 0: no limit), and before the first
	// newline with RegexFirstLine. RegexDollarNL: a $ may also match
	// before a final newline, as PCRE2's does. RegexNoMatch reverses it.
	Regex          string
	RegexNoMatch   bool
	RegexMinOffset int
	RegexMaxOffset int
	RegexFirstLine bool
	RegexDollarNL  bool
}

// CodeRange is an inclusive range of HTTP status codes.
type CodeRange struct{ Min, Max int }

// Policies for Arbiter.OnEtcdLoss.
const (
	// OnEtcdLossRelease drops the VIPs when the lease deadline passes:
	// never two holders.
	OnEtcdLossRelease = "release"
	// OnEtcdLossKeep would keep the VIPs of a master that loses etcd; it is
	// rejected with an explanation (two holders in a partition).
	OnEtcdLossKeep = "keep"
)

// Arbiter is vipd's arbiter block: the gate a node passes before it may
// become master.
type Arbiter struct {
	Pos             Pos
	Etcd            *Etcd
	Gateways        []netip.Addr
	GatewayInterval time.Duration // default 1s
	GatewayFall     int           // default 3
	GatewayRise     int           // default 2
	Memberlist      *Memberlist
	OnEtcdLoss      string // default OnEtcdLossRelease
	EmbeddedEtcd    *EmbeddedEtcd
}

// Etcd is arbiter { etcd { ... } }.
type Etcd struct {
	Pos       Pos
	Endpoints []string      // http(s)://host:port
	LeaseTTL  time.Duration // whole seconds, ≥ 4s, default 5s
	Prefix    string        // default "/vipd"
	Username  string
	Password  string
	TLS       *TLS
}

// TLS holds client certificate files.
type TLS struct {
	Pos  Pos
	CA   string
	Cert string
	Key  string
}

// Memberlist is arbiter { memberlist { ... } }.
type Memberlist struct {
	Pos        Pos
	Bind       netip.AddrPort // default 0.0.0.0:7946
	Join       []string       // host:port
	SecretFile string
}

// EmbeddedEtcd is arbiter { embedded_etcd { ... } }.
type EmbeddedEtcd struct {
	Pos            Pos
	Name           string
	DataDir        string
	PeerURL        string
	ClientURL      string
	InitialCluster []string // name=url entries
}
