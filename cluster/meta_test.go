package cluster

import (
	"fmt"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/hashicorp/memberlist"
)

func TestRecordRoundTrip(t *testing.T) {
	since := time.UnixMilli(1_700_000_000_123)
	many := make([]InstanceState, 40)
	for i := range many {
		many[i] = InstanceState{Name: fmt.Sprintf("VI_instance_number_%02d", i), State: StateBackup, Priority: 100, Token: int64(i), Since: since}
	}
	many[37].State = StateMaster // must survive truncation
	tests := []struct {
		name          string
		rec           record
		limit         int
		wantDropped   int
		wantTruncated bool
		wantFirst     string
	}{
		{name: "empty", rec: record{Seq: 1}, limit: memberlist.MetaMaxSize},
		{name: "one", limit: memberlist.MetaMaxSize, rec: record{Seq: 1 << 62, Instances: []InstanceState{
			{Name: "VI_1", State: StateMaster, Priority: 255, Token: 1 << 40, GatewayOK: true, Since: since},
		}}, wantFirst: "VI_1"},
		{name: "states", limit: memberlist.MetaMaxSize, rec: record{Seq: 7, Instances: []InstanceState{
			{Name: "a", State: StateBackup, Priority: 0},
			{Name: "b", State: StateFault, Priority: 1, Token: -1},
			{Name: "c", State: StateMaster, Priority: 100, Token: 5, GatewayOK: true},
		}}, wantFirst: "c"},
		{name: "truncated keeps master first", rec: record{Seq: 9, Instances: many}, limit: memberlist.MetaMaxSize,
			wantDropped: 24, wantTruncated: true, wantFirst: "VI_instance_number_37"},
		{name: "unlimited", rec: record{Seq: 9, Instances: many}, limit: 0, wantFirst: "VI_instance_number_37"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, dropped := encodeRecord(tt.rec, tt.limit)
			if tt.limit > 0 && len(b) > tt.limit {
				t.Fatalf("encoded %d bytes, limit %d", len(b), tt.limit)
			}
			got, err := decodeRecord(b)
			if err != nil {
				t.Fatalf("decode: %v", err)
			}
			t.Logf("%d instances in %d bytes", len(got.Instances), len(b))
			if dropped != tt.wantDropped || got.Truncated != tt.wantTruncated {
				t.Errorf("dropped, truncated = %d, %v; want %d, %v", dropped, got.Truncated, tt.wantDropped, tt.wantTruncated)
			}
			want := orderMasterFirst(tt.rec.Instances)[:len(tt.rec.Instances)-tt.wantDropped]
			if len(want) == 0 {
				want = nil
			}
			if diff := cmp.Diff(want, got.Instances); diff != "" {
				t.Errorf("instances (-want +got):\n%s", diff)
			}
			if got.Seq != tt.rec.Seq {
				t.Errorf("seq = %d, want %d", got.Seq, tt.rec.Seq)
			}
			if tt.wantFirst != "" && got.Instances[0].Name != tt.wantFirst {
				t.Errorf("first instance %q, want %q", got.Instances[0].Name, tt.wantFirst)
			}
		})
	}
}

func TestDecodeRecordErrors(t *testing.T) {
	good, _ := encodeRecord(record{Seq: 3, Instances: []InstanceState{{Name: "VI_1", State: StateMaster, Token: 9}}}, 0)
	tests := []struct {
		name string
		in   []byte
	}{
		{"empty", nil},
		{"bad version", append([]byte{9}, good[1:]...)},
		{"short", good[:len(good)-1]},
		{"trailing", append(append([]byte{}, good...), 0)},
		{"huge count", []byte{metaVersion, 0, 1, 0xff, 0xff, 0x03}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := decodeRecord(tt.in); err == nil {
				t.Fatalf("decodeRecord(%x) succeeded, want error", tt.in)
			}
		})
	}
}

func FuzzDecodeRecord(f *testing.F) {
	seed, _ := encodeRecord(record{Seq: 3, Instances: []InstanceState{{Name: "VI_1", State: StateMaster, Token: 9, GatewayOK: true}}}, 0)
	f.Add(seed)
	f.Add([]byte{metaVersion, 0, 0, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := decodeRecord(b)
		if err != nil {
			return
		}
		// Whatever decodes must survive a round trip unchanged.
		again, err := decodeRecord(mustEncode(r))
		if err != nil {
			t.Fatalf("re-decode: %v", err)
		}
		if diff := cmp.Diff(orderMasterFirst(r.Instances), again.Instances, cmp.Comparer(func(a, b time.Time) bool { return a.Equal(b) })); diff != "" && len(r.Instances) > 0 {
			t.Fatalf("round trip (-first +second):\n%s", diff)
		}
	})
}

func mustEncode(r record) []byte {
	b, _ := encodeRecord(record{Seq: r.Seq, Truncated: r.Truncated, Instances: r.Instances}, 0)
	return b
}

func TestReadSecretFile(t *testing.T) {
	dir := t.TempDir()
	raw32 := []byte("\x00\x01\x02\x03\x04\x05\x06\x07\x08\x09\x0a\x0b\x0c\x0d\x0e\x0f\xf0\xf1\xf2\xf3\xf4\xf5\xf6\xf7\xf8\xf9\xfa\xfb\xfc\xfd\xfe\xff")
	tests := []struct {
		name    string
		content string
		want    []byte
		wantErr bool
	}{
		{name: "raw 32", content: string(raw32), want: raw32},
		{name: "raw 16", content: string(raw32[:16]), want: raw32[:16]},
		{name: "base64 32 with newline", content: "AAECAwQFBgcICQoLDA0OD/Dx8vP09fb3+Pn6+/z9/v8=\n", want: raw32},
		{name: "too short", content: "short", wantErr: true},
		{name: "base64 of 13 bytes", content: "AAECAwQFBgcICQoLDA==", wantErr: true},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := fmt.Sprintf("%s/key%d", dir, i)
			writeFile(t, p, tt.content)
			got, err := ReadSecretFile(p)
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, wantErr %v", err, tt.wantErr)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("key (-want +got):\n%s", diff)
			}
		})
	}
}
