// Package config parses keepalived.conf (with includes and vipd's arbiter
// block) into a typed, validated model whose defaults are filled in, and
// reports problems as "file:line: message".
package config
