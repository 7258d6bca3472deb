// Package check runs keepalived's real-server health checkers (TCP_CHECK,
// HTTP_GET, SSL_GET, MISC_CHECK, DNS_CHECK, PING_CHECK, UDP_CHECK,
// SMTP_CHECK, FILE_CHECK) and holds the pure up/down,
// weight and quorum rules of keepalived's checker daemon; there is no RFC,
// keepalived's check_*.c and ipwrapper.c are the reference.
package check
