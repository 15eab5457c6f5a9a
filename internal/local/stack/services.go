package stack

import (
	"errors"
	"fmt"
	"maps"
	"net/http"

	"github.com/dnssec-autopilot/dnssec-autopilot/internal/local/awsemu"
)

// AddService serves h at the stack's AWS endpoint as the service name (the
// service of the SigV4 credential scope, e.g. awsemu.ServiceSFN, "states"),
// beside the emulators the stack starts with: the Step Functions emulator,
// which needs the step handlers built over the stack, is added this way.
// Adding a name again replaces its handler. Requests already dispatched
// finish with the handler they had.
func (s *Stack) AddService(name string, h http.Handler) error {
	if name == "" || h == nil {
		return fmt.Errorf("stack: add service %q: want a service name and a handler", name)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return errors.New("stack: add service: closed")
	}
	services := maps.Clone(s.services)
	services[name] = h
	s.services = services
	s.router.Store(awsemu.NewRouter(services))
	return nil
}
