package nft

import (
	"encoding/hex"
	"fmt"
	"strings"

	"github.com/google/nftables"
	"github.com/google/nftables/expr"
)

// render prints a program one object a line, the expressions in the style
// of `nft --debug=netlink`, so golden files show exactly what Apply sends.
func (prog *program) render() string {
	var b strings.Builder
	family := map[nftables.TableFamily]string{nftables.TableFamilyIPv4: "ip", nftables.TableFamilyNetdev: "netdev"}[prog.table.Family]
	fmt.Fprintf(&b, "table %s %s\n", family, prog.table.Name)
	for _, c := range prog.chains {
		if c.Hooknum != nil {
			dev := ""
			if c.Device != "" {
				dev = " device " + c.Device
			}
			fmt.Fprintf(&b, "chain %s { type %s hook %d%s priority %d policy accept }\n", c.Name, c.Type, *c.Hooknum, dev, *c.Priority)
		} else {
			fmt.Fprintf(&b, "chain %s\n", c.Name)
		}
	}
	for _, s := range prog.sets {
		fmt.Fprintf(&b, "map %s { %s : %s", s.set.Name, s.set.KeyType.Name, s.set.DataType.Name)
		if s.set.HasTimeout {
			fmt.Fprintf(&b, "; timeout %v", s.set.Timeout)
		}
		b.WriteString(" }")
		for _, e := range s.elems {
			fmt.Fprintf(&b, " [%s", hex.EncodeToString(e.Key))
			if e.VerdictData != nil {
				fmt.Fprintf(&b, " : %s", verdict(e.VerdictData))
			} else {
				fmt.Fprintf(&b, " : %s timeout %v", hex.EncodeToString(e.Val), e.Timeout)
			}
			b.WriteString("]")
		}
		b.WriteString("\n")
	}
	for _, r := range prog.rules {
		fmt.Fprintf(&b, "rule %s:", r.Chain.Name)
		for _, e := range r.Exprs {
			fmt.Fprintf(&b, " [ %s ]", exprString(e))
		}
		b.WriteString("\n")
	}
	return b.String()
}

func verdict(v *expr.Verdict) string {
	switch v.Kind {
	case expr.VerdictGoto:
		return "goto " + v.Chain
	case expr.VerdictJump:
		return "jump " + v.Chain
	case expr.VerdictDrop:
		return "drop"
	case expr.VerdictAccept:
		return "accept"
	}
	return fmt.Sprintf("verdict %d", v.Kind)
}

func exprString(e expr.Any) string {
	h := hex.EncodeToString
	switch e := e.(type) {
	case *expr.Meta:
		return fmt.Sprintf("meta load %d => reg %d", e.Key, e.Register)
	case *expr.Cmp:
		op := map[expr.CmpOp]string{expr.CmpOpEq: "eq", expr.CmpOpNeq: "neq"}[e.Op]
		return fmt.Sprintf("cmp %s reg %d 0x%s", op, e.Register, h(e.Data))
	case *expr.Payload:
		base := map[expr.PayloadBase]string{expr.PayloadBaseLLHeader: "link", expr.PayloadBaseNetworkHeader: "network", expr.PayloadBaseTransportHeader: "transport"}[e.Base]
		if e.OperationType == expr.PayloadWrite {
			return fmt.Sprintf("payload write reg %d => %db @ %s header + %d", e.SourceRegister, e.Len, base, e.Offset)
		}
		return fmt.Sprintf("payload load %db @ %s header + %d => reg %d", e.Len, base, e.Offset, e.DestRegister)
	case *expr.Immediate:
		return fmt.Sprintf("immediate reg %d 0x%s", e.Register, h(e.Data))
	case *expr.Numgen:
		kind := map[uint32]string{0: "inc", 1: "random"}[e.Type]
		return fmt.Sprintf("numgen reg %d = %s mod %d", e.Register, kind, e.Modulus)
	case *expr.Hash:
		return fmt.Sprintf("hash reg %d = jhash(reg %d, %d) %% mod %d seed 0x%x", e.DestRegister, e.SourceRegister, e.Length, e.Modulus, e.Seed)
	case *expr.Lookup:
		return fmt.Sprintf("lookup reg %d set %s dreg %d", e.SourceRegister, e.SetName, e.DestRegister)
	case *expr.Dynset:
		return fmt.Sprintf("dynset update reg_key %d set %s sreg_data %d timeout %v", e.SrcRegKey, e.SetName, e.SrcRegData, e.Timeout)
	case *expr.NAT:
		return fmt.Sprintf("nat dnat ip addr_min reg %d proto_min reg %d", e.RegAddrMin, e.RegProtoMin)
	case *expr.Ct:
		return fmt.Sprintf("ct load %d => reg %d", e.Key, e.Register)
	case *expr.Bitwise:
		return fmt.Sprintf("bitwise reg %d = (reg %d & 0x%s) ^ 0x%s", e.DestRegister, e.SourceRegister, h(e.Mask), h(e.Xor))
	case *expr.Masq:
		return "masq"
	case *expr.Dup:
		return fmt.Sprintf("dup sreg_dev %d", e.RegDev)
	case *expr.Verdict:
		return verdict(e)
	}
	return fmt.Sprintf("%T %+v", e, e)
}
