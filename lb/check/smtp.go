package check

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"net/netip"
	"time"
)

// SMTPCheck is SMTP_CHECK (keepalived check_smtp.c): connect, read the
// banner (220), send HELO, read 250, send QUIT and read one more line.
// Each step has Timeout. Only the first line of each reply counts and its
// code must be three digits followed by a space or nothing, as
// smtp_get_status reads it: a multi-line "220-" banner fails, as it does
// in keepalived.
type SMTPCheck struct {
	Addr    netip.AddrPort
	BindTo  netip.Addr
	Timeout time.Duration
	Helo    string
}

var _ Prober = (*SMTPCheck)(nil)

// smtpLineMax is keepalived's SMTP_BUFF_MAX less its terminating NUL.
const smtpLineMax = 511

// Probe implements Prober.
func (c *SMTPCheck) Probe(ctx context.Context) Result {
	start := time.Now()
	conn, err := dialer("tcp", c.BindTo, c.Timeout).DialContext(ctx, "tcp", c.Addr.String())
	if err != nil {
		return fail(start, errDetail(err))
	}
	defer conn.Close()
	stop := context.AfterFunc(ctx, func() { _ = conn.SetDeadline(time.Now()) })
	defer stop()
	r := bufio.NewReaderSize(conn, smtpLineMax+1)
	steps := []struct {
		send string
		want int // 0: any line
		what string
	}{
		{"", 220, "banner"},
		{"HELO " + c.Helo + "\r\n", 250, "HELO reply"},
		{"QUIT\r\n", 0, "QUIT reply"},
	}
	for _, s := range steps {
		_ = conn.SetDeadline(time.Now().Add(connectTimeout(c.Timeout)))
		if s.send != "" {
			if _, err := conn.Write([]byte(s.send)); err != nil {
				return fail(start, errDetail(err))
			}
		}
		line, err := smtpLine(r)
		if err != nil {
			return fail(start, s.what+": "+errDetail(err))
		}
		if s.want != 0 && smtpStatus(line) != s.want {
			return fail(start, fmt.Sprintf("bad %s %q", s.what, line))
		}
	}
	return success(start, "smtp ok")
}

// smtpLine reads one line without its "\n" (a "\r" stays, as keepalived
// keeps it).
func smtpLine(r *bufio.Reader) (string, error) {
	line, err := r.ReadSlice('\n')
	if err == bufio.ErrBufferFull {
		return "", fmt.Errorf("line longer than %d bytes", smtpLineMax)
	}
	if err != nil {
		return "", err
	}
	return string(bytes.TrimSuffix(line, []byte("\n"))), nil
}

// smtpStatus is keepalived's smtp_get_status: the code when the line
// starts with exactly three digits followed by a space or its end, else -1.
func smtpStatus(line string) int {
	if len(line) < 3 || (len(line) > 3 && line[3] != ' ') {
		return -1
	}
	v := 0
	for _, ch := range line[:3] {
		if ch < '0' || ch > '9' {
			return -1
		}
		v = v*10 + int(ch-'0')
	}
	return v
}
