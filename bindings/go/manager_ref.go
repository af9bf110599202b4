package mpipc

import "fmt"

// A cgo file like the Manager it uses (no C of its own): it drops out of
// the builds that the Manager drops out of (no cgo, other platforms), where
// cgo_required.go or platform_unsupported.go says why. (The blank line
// keeps this comment out of the cgo preamble.)

import "C"

// Opening a ManagerRef (a manager object received as a value: a Python
// proxy put in a queue, a pipe or another manager object; docs/TYPES.md,
// mpipc's REF tag). A reference names the object and its server; the
// caller brings the authkey (a reference never carries one, as a pickled
// Python proxy does not):
//
//	mgr, err := ref.Connect(authkey) // or a Manager already connected to ref.Address
//	d, err := ref.Dict(mgr)          // the same as mgr.Dict(ref.Name), once ref.Kind is "dict"
//
// The typed openers below check Kind first; for the other kinds, use the
// Manager method of that kind with ref.Name (e.g. mgr.Condition(ref.Name)),
// or mgr.Call(ref.Kind, ref.Name, method, args...).

// Connect connects to the server that holds the referenced object
// (ConnectManager(r.Address, authkey)).
func (r ManagerRef) Connect(authkey []byte) (*Manager, error) {
	return ConnectManager(r.Address, authkey)
}

// is checks that the reference is to an object of one of kinds.
func (r ManagerRef) is(kinds ...string) error {
	for _, k := range kinds {
		if r.Kind == k {
			return nil
		}
	}
	return fmt.Errorf("mpipc: %v is not a %s", r, kinds[0])
}

// Dict opens the referenced dict through m (connected to r.Address).
func (r ManagerRef) Dict(m *Manager) (*DictProxy, error) {
	if err := r.is("dict"); err != nil {
		return nil, err
	}
	return m.Dict(r.Name), nil
}

// List opens the referenced list through m.
func (r ManagerRef) List(m *Manager) (*ListProxy, error) {
	if err := r.is("list"); err != nil {
		return nil, err
	}
	return m.List(r.Name), nil
}

// Namespace opens the referenced namespace through m.
func (r ManagerRef) Namespace(m *Manager) (*NamespaceProxy, error) {
	if err := r.is("namespace"); err != nil {
		return nil, err
	}
	return m.Namespace(r.Name), nil
}

// Value opens the referenced value through m.
func (r ManagerRef) Value(m *Manager) (*ValueProxy, error) {
	if err := r.is("value"); err != nil {
		return nil, err
	}
	return m.Value(r.Name), nil
}

// Queue opens the referenced queue through m.
func (r ManagerRef) Queue(m *Manager) (*QueueProxy, error) {
	if err := r.is("queue"); err != nil {
		return nil, err
	}
	return m.Queue(r.Name), nil
}

// Lock opens the referenced lock or rlock through m.
func (r ManagerRef) Lock(m *Manager) (*LockProxy, error) {
	if err := r.is("lock", "rlock"); err != nil {
		return nil, err
	}
	return &LockProxy{m: m, kind: r.Kind, name: r.Name}, nil
}
