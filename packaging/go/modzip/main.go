// Command modzip writes one version of a Go module into a file-based module
// proxy (GOPROXY=file://DIR, the layout of the GOPROXY protocol):
//
//	modzip -dir MODDIR -version v0.1.0 -time 2024-01-02T03:04:05Z -proxy DIR
//
// writes DIR/<escaped module path>/@v/{VERSION.zip, VERSION.mod,
// VERSION.info, list}. The zip is made by golang.org/x/mod/zip, the code the
// go command itself uses, from every file under MODDIR (MODDIR is the
// module as it is to be published: the caller has already put in and left
// out what it wants), so it passes the go command's checks; modzip then
// re-reads it with zip.CheckZip and prints its go.sum hash (h1:).
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"golang.org/x/mod/modfile"
	"golang.org/x/mod/module"
	"golang.org/x/mod/semver"
	"golang.org/x/mod/sumdb/dirhash"
	modzip "golang.org/x/mod/zip"
)

func main() {
	dir := flag.String("dir", "", "the module's directory (with its go.mod)")
	version := flag.String("version", "", "the version to write, e.g. v0.1.0")
	when := flag.String("time", "", "the version's time (RFC 3339), written to VERSION.info")
	proxy := flag.String("proxy", "", "the file-based proxy's root directory")
	flag.Parse()
	if *dir == "" || *version == "" || *when == "" || *proxy == "" || flag.NArg() != 0 {
		flag.Usage()
		os.Exit(2)
	}
	if err := run(*dir, *version, *when, *proxy); err != nil {
		fmt.Fprintln(os.Stderr, "modzip:", err)
		os.Exit(1)
	}
}

func run(dir, version, when, proxy string) error {
	t, err := time.Parse(time.RFC3339, when)
	if err != nil {
		return fmt.Errorf("-time: %v", err)
	}
	if semver.Canonical(version) != version {
		return fmt.Errorf("-version %q is not a canonical semantic version", version)
	}
	gomod, err := os.ReadFile(filepath.Join(dir, "go.mod"))
	if err != nil {
		return err
	}
	path := modfile.ModulePath(gomod)
	if path == "" {
		return fmt.Errorf("%s/go.mod has no module line", dir)
	}
	mv := module.Version{Path: path, Version: version}
	if err := module.Check(path, version); err != nil {
		return err
	}
	esc, err := module.EscapePath(path)
	if err != nil {
		return err
	}
	vdir := filepath.Join(proxy, filepath.FromSlash(esc), "@v")
	if err := os.MkdirAll(vdir, 0o755); err != nil {
		return err
	}

	zipPath := filepath.Join(vdir, version+".zip")
	f, err := os.Create(zipPath)
	if err != nil {
		return err
	}
	if err := modzip.CreateFromDir(f, mv, dir); err != nil {
		f.Close()
		return fmt.Errorf("creating %s: %v", zipPath, err)
	}
	if err := f.Close(); err != nil {
		return err
	}
	if _, err := modzip.CheckZip(mv, zipPath); err != nil {
		return fmt.Errorf("checking %s: %v", zipPath, err)
	}
	sum, err := dirhash.HashZip(zipPath, dirhash.Hash1)
	if err != nil {
		return err
	}

	if err := os.WriteFile(filepath.Join(vdir, version+".mod"), gomod, 0o644); err != nil {
		return err
	}
	info, err := json.Marshal(struct {
		Version string
		Time    time.Time
	}{version, t.UTC()})
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(vdir, version+".info"), append(info, '\n'), 0o644); err != nil {
		return err
	}
	if err := addToList(filepath.Join(vdir, "list"), version); err != nil {
		return err
	}
	fmt.Printf("%s %s %s\n", path, version, sum)
	return nil
}

// addToList adds version to the proxy's list of versions (one per line,
// semver order), keeping the others.
func addToList(file, version string) error {
	seen := map[string]bool{version: true}
	if b, err := os.ReadFile(file); err == nil {
		for _, v := range strings.Fields(string(b)) {
			seen[v] = true
		}
	} else if !os.IsNotExist(err) {
		return err
	}
	var vs []string
	for v := range seen {
		vs = append(vs, v)
	}
	sort.Slice(vs, func(i, j int) bool { return semver.Compare(vs[i], vs[j]) < 0 })
	return os.WriteFile(file, []byte(strings.Join(vs, "\n")+"\n"), 0o644)
}
