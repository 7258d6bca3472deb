package ipvs

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
)

// ErrConflict is wrapped by Apply's error for a desired service whose key
// is already in the kernel but was not made by vipd (an operator's, or
// another program's): vipd leaves it alone and does not program it.
var ErrConflict = errors.New("virtual service exists in the kernel and was not made by vipd")

// owned lists the services the plane made, by svcKey.String(), with the
// name of the Service they were made for (for people reading the file).
// IPVS objects carry no tags: this list is how Remove and a restart after
// a crash tell vipd's services from an operator's.
type owned map[string]string

// stateFile is the state file's JSON.
type stateFile struct {
	Version  int            `json:"version"`
	Services []ownedService `json:"services"`
}

type ownedService struct {
	Key  string `json:"key"`
	Name string `json:"name,omitempty"`
}

const stateVersion = 1

// loadOwned reads the state file; a missing file is an empty list. A file
// that cannot be read is an error rather than an empty list: guessing
// could adopt or delete an operator's services.
func loadOwned(path string) (owned, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return owned{}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("state file: %w", err)
	}
	var f stateFile
	if err := json.Unmarshal(b, &f); err != nil {
		return nil, fmt.Errorf("state file %s: %w (if no vipd IPVS services are left, delete it)", path, err)
	}
	if f.Version != stateVersion {
		return nil, fmt.Errorf("state file %s: version %d, want %d", path, f.Version, stateVersion)
	}
	o := owned{}
	for _, s := range f.Services {
		o[s.Key] = s.Name
	}
	return o, nil
}

// save writes o to path atomically (temporary file, then rename), so that a
// crash leaves the old list or the new one. An empty list removes the file.
func (o owned) save(path string) error {
	if len(o) == 0 {
		if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("state file: %w", err)
		}
		return nil
	}
	f := stateFile{Version: stateVersion}
	for _, k := range slices.Sorted(maps.Keys(o)) {
		f.Services = append(f.Services, ownedService{Key: k, Name: o[k]})
	}
	b, err := json.MarshalIndent(f, "", "  ")
	if err != nil {
		return err
	}
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("state file: %w", err)
	}
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".*")
	if err != nil {
		return fmt.Errorf("state file: %w", err)
	}
	defer os.Remove(tmp.Name()) // after a successful rename: ENOENT, ignored
	if _, err := tmp.Write(append(b, '\n')); err != nil {
		tmp.Close()
		return fmt.Errorf("state file: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("state file: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("state file: %w", err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("state file: %w", err)
	}
	return nil
}

// reconcile sorts the kernel's services against the owned list and the
// desired services: current is what the plane owns in the kernel (to be
// diffed), apply is the desired services it may program. A desired service
// whose key the kernel already holds without the plane owning it is left
// out of apply and reported as an ErrConflict; owned services the kernel
// no longer holds are simply missing from current (and re-created if
// still desired).
func reconcile(kernel []svcSpec, own owned, desired []svcSpec) (current, apply []svcSpec, err error) {
	inKernel := make(map[svcKey]bool, len(kernel))
	for _, k := range kernel {
		inKernel[k.Key] = true
		if _, ok := own[k.Key.String()]; ok {
			current = append(current, k)
		}
	}
	var errs []error
	for _, d := range desired {
		if _, ok := own[d.Key.String()]; inKernel[d.Key] && !ok {
			errs = append(errs, fmt.Errorf("service %q: %s: %w; delete it (ipvsadm -D) or change the virtual_server", d.Name, d.Key, ErrConflict))
			continue
		}
		apply = append(apply, d)
	}
	return current, apply, errors.Join(errs...)
}
