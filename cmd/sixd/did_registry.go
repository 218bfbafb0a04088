package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/sixdomain/sixdomain/identity"
	"github.com/sixdomain/sixdomain/ledger/types"
	"github.com/sixdomain/sixdomain/node"
)

// opFlags are the flags of the commands that submit registry operations.
type opFlags struct {
	af      apiFlags
	wait    bool
	timeout time.Duration
}

func (f *opFlags) add(cmd *cobra.Command) {
	f.af.add(cmd)
	cmd.Flags().BoolVar(&f.wait, "wait", false, "wait until the transaction(s) are committed")
	cmd.Flags().DurationVar(&f.timeout, "timeout", 30*time.Second, "how long --wait waits")
}

// regSession submits registry operations signed by the home key to a node.
type regSession struct {
	f       *opFlags
	c       *apiClient
	key     *identity.PrivateKey
	chainID string
	nonce   uint64 // next nonce; 0 until asked
}

// openSession loads the home key and asks the node for its chain ID.
func openSession(ctx context.Context, f *opFlags) (*regSession, error) {
	if f.wait && f.timeout <= 0 {
		return nil, fmt.Errorf("--timeout must be positive, got %s", f.timeout)
	}
	home, err := resolveHome(f.af.home)
	if err != nil {
		return nil, err
	}
	_, key, err := loadHomeKey(home)
	if err != nil {
		return nil, err
	}
	c, err := f.af.client()
	if err != nil {
		return nil, err
	}
	var status node.StatusResponse
	if err := c.getJSON(ctx, "/v1/status", &status); err != nil {
		return nil, fmt.Errorf("reading the chain ID: %w", err)
	}
	return &regSession{f: f, c: c, key: key, chainID: status.ChainID}, nil
}

// did returns the DID of the home key.
func (s *regSession) did() string { return s.key.Public().DID() }

// submit signs op into a registry transaction with the next nonce of the
// home key and submits it.
func (s *regSession) submit(ctx context.Context, op *types.DIDOp) (types.Hash, error) {
	if s.nonce == 0 {
		nonce, err := nextNonce(ctx, s.c, s.did())
		if err != nil {
			return types.Hash{}, err
		}
		s.nonce = nonce
	}
	tx, err := types.NewDIDTx(s.chainID, s.nonce, time.Now().UnixMilli(), op)
	if err != nil {
		return types.Hash{}, err
	}
	tx.Sign(s.key)
	if _, err := postTx(ctx, s.c, tx, op.Op.String()); err != nil {
		return types.Hash{}, err
	}
	s.nonce++
	return tx.Hash(), nil
}

// submitAndReport submits op, prints its hash and, with --wait, waits for
// its block and then prints done (unless it is "").
func (s *regSession) submitAndReport(ctx context.Context, cmd *cobra.Command, op *types.DIDOp, done string) error {
	h, err := s.submit(ctx, op)
	if err != nil {
		return err
	}
	if _, err := s.report(cmd, h); err != nil {
		return err
	}
	if s.f.wait && done != "" {
		fmt.Fprintln(cmd.OutOrStdout(), done)
	}
	return nil
}

// report prints the hashes and, with --wait, waits for each and prints
// its block. It returns the height of the last one (0 without --wait).
func (s *regSession) report(cmd *cobra.Command, hashes ...types.Hash) (uint64, error) {
	out := cmd.OutOrStdout()
	for _, h := range hashes {
		fmt.Fprintln(out, h)
	}
	if !s.f.wait {
		return 0, nil
	}
	var height uint64
	for _, h := range hashes {
		st, err := waitCommitted(cmd.Context(), s.c, h, s.did(), s.f.timeout)
		if err != nil {
			if strings.Contains(err.Error(), "last status: pending") {
				err = fmt.Errorf("%w; a registry operation that the ledger refuses (stale version, missing rights) stays pending until it expires and holds back the sender's later transactions; see the node's debug log (\"left out of block\")", err)
			}
			return 0, err
		}
		fmt.Fprintf(out, "committed in block %d\n", st.Height)
		height = st.Height
	}
	return height, nil
}

// authorities returns the node's current authority set.
func (s *regSession) isAuthority(ctx context.Context, k identity.PublicKey) (bool, error) {
	var f node.FinalityResponse
	if err := s.c.getJSON(ctx, "/v1/finality", &f); err != nil {
		return false, fmt.Errorf("reading the authorities: %w", err)
	}
	return slices.Contains(f.Authorities, k.DID()), nil
}

// resolve resolves ref's latest version with the node.
func (s *regSession) resolve(ctx context.Context, ref string) (*resolved, error) {
	return resolveDID(ctx, s.c, ref, time.Time{}, 0)
}

// registered resolves ref and fails unless it is registered.
func (s *regSession) registered(ctx context.Context, ref string) (*resolved, error) {
	r, err := s.resolve(ctx, ref)
	if err != nil {
		return nil, err
	}
	if !r.Registered {
		return nil, fmt.Errorf("%s is not registered (in the node's finalized registry)", r.Res.DIDDocument.ID)
	}
	return r, nil
}

// controllerOp prepares an operation on the DID that ref names that its
// controllers sign: it resolves the DID and, unless version is given,
// takes its current version and checks that the home key alone can sign
// it (threshold 1, the home key the current key of a controller).
func (s *regSession) controllerOp(ctx context.Context, kind types.DIDOpKind, ref string, version uint64) (*types.DIDOp, *resolved, error) {
	subject, err := parseKeyRef(ref)
	if err != nil {
		return nil, nil, err
	}
	op := &types.DIDOp{Op: kind, Subject: subject, Version: version}
	if version != 0 {
		return op, nil, nil
	}
	r, err := s.registered(ctx, ref)
	if err != nil {
		return nil, nil, err
	}
	op.Version = r.Version
	did := r.Res.DIDDocumentMetadata.CanonicalID
	if r.Props.Threshold > 1 {
		return nil, nil, fmt.Errorf("%s needs %d of its controllers to sign; sixd signs with the home key only", did, r.Props.Threshold)
	}
	me := s.key.Public()
	ok := false
	for _, c := range r.Res.DIDDocument.Controller {
		if c == did {
			ok = ok || r.Key == me
			continue
		}
		cr, err := s.resolve(ctx, c)
		if err != nil {
			return nil, nil, fmt.Errorf("controller %s: %w", c, err)
		}
		ok = ok || (cr.Key == me && cr.Active())
	}
	if !ok {
		return nil, nil, fmt.Errorf("the home key %s is not the current key of a controller of %s (controllers: %s)",
			me.DID(), did, strings.Join(r.Res.DIDDocument.Controller, ", "))
	}
	switch {
	case kind == types.OpReactivate && !r.Res.DIDDocumentMetadata.Deactivated:
		return nil, nil, fmt.Errorf("%s is active", did)
	case kind == types.OpReactivate && r.Props.Revoked:
		return nil, nil, fmt.Errorf("%s is revoked; only its admitter or an authority can admit it again", did)
	case kind != types.OpReactivate && r.Res.DIDDocumentMetadata.Deactivated && !r.Props.Revoked:
		return nil, nil, fmt.Errorf("%s is deactivated; reactivate it first", did)
	}
	return op, r, nil
}

// parseService parses id=TYPE,ENDPOINT.
func parseService(s string) (types.Service, error) {
	id, rest, ok := strings.Cut(s, "=")
	typ, endpoint, ok2 := strings.Cut(rest, ",")
	if !ok || !ok2 {
		return types.Service{}, fmt.Errorf("--service %q: want id=TYPE,ENDPOINT, e.g. mqtt=MQTTBridge,mqtts://broker.example:8883", truncate(s, 80))
	}
	svc := types.Service{ID: id, Type: typ, Endpoint: endpoint}
	if err := svc.Validate(); err != nil {
		return types.Service{}, fmt.Errorf("--service %q: %w", truncate(s, 80), err)
	}
	return svc, nil
}

// registerOp builds the register operation of subject from flags.
func registerOp(subject identity.PublicKey, domain, role string, controllers []string, threshold uint8, thresholdSet bool, services []string) (*types.DIDOp, error) {
	d, err := types.ParseDomain(domain)
	if err != nil {
		return nil, fmt.Errorf("--domain: %w", err)
	}
	r, err := types.ParseEntityRole(role)
	if err != nil {
		return nil, fmt.Errorf("--role: %w", err)
	}
	op := &types.DIDOp{Op: types.OpRegister, Subject: subject, Domain: d, Role: r}
	for _, c := range controllers {
		k, err := parseKeyRef(c)
		if err != nil {
			return nil, fmt.Errorf("--controller: %w", err)
		}
		if slices.Contains(op.Controllers, k) {
			return nil, fmt.Errorf("--controller %s given twice", k.DID())
		}
		op.Controllers = append(op.Controllers, k)
	}
	slices.SortFunc(op.Controllers, func(a, b identity.PublicKey) int { return bytes.Compare(a[:], b[:]) })
	switch {
	case len(op.Controllers) == 0 && thresholdSet:
		return nil, errors.New("--threshold needs --controller (without controllers the DID controls itself)")
	case len(op.Controllers) > 0 && !thresholdSet:
		op.Threshold = 1
	case len(op.Controllers) > 0:
		if threshold < 1 || int(threshold) > len(op.Controllers) {
			return nil, fmt.Errorf("--threshold must be 1 to %d (the number of controllers), got %d", len(op.Controllers), threshold)
		}
		op.Threshold = threshold
	}
	for _, s := range services {
		svc, err := parseService(s)
		if err != nil {
			return nil, err
		}
		op.Services = append(op.Services, svc)
	}
	if err := op.Validate(); err != nil {
		return nil, err
	}
	return op, nil
}

// registerFlags are the profile flags of register and request.
type registerFlags struct {
	domain, role string
	controllers  []string
	threshold    uint8
	services     []string
}

func (f *registerFlags) add(cmd *cobra.Command) {
	fl := cmd.Flags()
	fl.StringVar(&f.domain, "domain", "", "ISO/IEC 30141 domain: user, operations, application, resource-access, sensing or physical (required)")
	fl.StringVar(&f.role, "role", "", "entity role: device, gateway, operator, application, user or bridge (required)")
	fl.StringSliceVar(&f.controllers, "controller", nil, "a controller's DID or peer ID (repeatable; default: the DID controls itself)")
	fl.Uint8Var(&f.threshold, "threshold", 0, "how many controllers must sign a change (default 1; needs --controller)")
	fl.StringArrayVar(&f.services, "service", nil, "a service as id=TYPE,ENDPOINT (repeatable)")
	_ = cmd.MarkFlagRequired("domain") // fails only for an undefined flag
	_ = cmd.MarkFlagRequired("role")   // fails only for an undefined flag
}

func (f *registerFlags) op(cmd *cobra.Command, subject identity.PublicKey) (*types.DIDOp, error) {
	return registerOp(subject, f.domain, f.role, f.controllers, f.threshold, cmd.Flags().Changed("threshold"), f.services)
}

func newDIDRegisterCmd() *cobra.Command {
	var (
		of opFlags
		rf registerFlags
	)
	cmd := &cobra.Command{
		Use:   "register --domain D --role R [--controller DID ...] [--threshold N] [--service id=TYPE,ENDPOINT ...] [--wait]",
		Short: "Register the home key's DID in the ledger's registry (open chains)",
		Long: `register records the DID of the home key (its did:key) in the ledger's DID
registry, with its ISO/IEC 30141 domain, its role, its controllers (default:
itself) and services. The registration makes the DID resolvable with 'sixd did
resolve' and lets it later rotate its key, add services or be deactivated.

On a chain whose genesis has admission = "admitted", only authorities and
admitted entities may send transactions: there a new entity is registered by
its gateway instead ('sixd did request' on the device, 'sixd did onboard' on
the gateway).`,
		Example: `  sixd did register --domain sensing --role device --wait
  sixd did register --domain resource-access --role gateway --service p2p=LibP2P,/ip4/192.0.2.7/udp/4001/quic-v1`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			s, err := openSession(ctx, &of)
			if err != nil {
				return err
			}
			op, err := rf.op(cmd, s.key.Public())
			if err != nil {
				return err
			}
			r, err := s.resolve(ctx, s.did())
			if err != nil {
				return err
			}
			if r.Registered {
				return fmt.Errorf("%s is registered already (as %s, version %d)", s.did(), r.Res.DIDDocumentMetadata.CanonicalID, r.Version)
			}
			err = s.submitAndReport(ctx, cmd, op, "registered "+s.did())
			if isHTTPStatus(err, http.StatusForbidden) {
				err = fmt.Errorf("%w; on an admitted chain run 'sixd did request' here and 'sixd did onboard' on a gateway", err)
			}
			return err
		},
	}
	rf.add(cmd)
	of.add(cmd)
	return cmd
}

func newDIDAdmitCmd() *cobra.Command {
	var (
		of      opFlags
		onboard []string
		version uint64
	)
	cmd := &cobra.Command{
		Use:   "admit DID|PEER-ID [--onboard DOMAINS] [--version N] [--wait]",
		Short: "Admit a registered DID to an admitted chain (authorities and onboarding entities)",
		Long: `admit marks a registered DID as admitted, signed by the home key: on a chain
with admission = "admitted" only authorities and admitted entities may send
transactions. The home key must be an authority, or an admitted entity that may
admit entities of the DID's domain (and not the DID itself).

An authority may also, with --onboard, give the DID the right to admit
entities of those domains (a comma-separated list): that is how a gateway is
empowered to onboard its devices. Admitting again replaces the rights.

The operation applies to the DID's current version, which admit reads from
the node unless --version is given.`,
		Example: `  sixd did admit did:key:z6Mk... --wait
  sixd did admit did:key:z6MkGateway... --onboard sensing,physical --wait`,
		Args: exactArgs(1, "the DID (or peer ID) to admit"),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			subject, err := parseKeyRef(args[0])
			if err != nil {
				return err
			}
			op := &types.DIDOp{Op: types.OpAdmit, Subject: subject, Version: version}
			for _, d := range onboard {
				dom, err := types.ParseDomain(d)
				if err != nil {
					return fmt.Errorf("--onboard: %w", err)
				}
				if !slices.Contains(op.Onboard, dom) {
					op.Onboard = append(op.Onboard, dom)
				}
			}
			slices.Sort(op.Onboard)
			s, err := openSession(ctx, &of)
			if err != nil {
				return err
			}
			if version == 0 {
				r, err := s.registered(ctx, args[0])
				if err != nil {
					return err
				}
				op.Version = r.Version
				if err := s.checkAdmitter(ctx, r.Canonical, r.Props.Domain, len(op.Onboard) > 0); err != nil {
					return err
				}
			}
			return s.submitAndReport(ctx, cmd, op, fmt.Sprintf("%s admitted by %s", subject.DID(), s.did()))
		},
	}
	of.add(cmd)
	cmd.Flags().StringSliceVar(&onboard, "onboard", nil, "domains whose entities the DID may then admit (authorities only), e.g. sensing,physical")
	cmd.Flags().Uint64Var(&version, "version", 0, "the DID's current version (default: ask the node)")
	return cmd
}

// checkAdmitter checks, against the finalized registry, that the home key
// may admit the DID registered as subject, of the domain named domain
// (granting it onboarding rights if grants).
func (s *regSession) checkAdmitter(ctx context.Context, subject identity.PublicKey, domain string, grants bool) error {
	me := s.key.Public()
	auth, err := s.isAuthority(ctx, me)
	if err != nil || auth {
		return err
	}
	if grants {
		return fmt.Errorf("--onboard: only an authority grants the right to admit entities, and %s is not one", me.DID())
	}
	mine, err := s.resolve(ctx, me.DID())
	if err != nil {
		return err
	}
	switch {
	case !mine.Registered || mine.Key != me:
		return fmt.Errorf("%s is neither an authority nor the current key of a registered entity, so it may not admit", me.DID())
	case mine.Canonical == subject:
		return fmt.Errorf("%s may not admit itself", me.DID())
	case !mine.mayOnboard(domain):
		return fmt.Errorf("%s may not admit entities of the %s domain (it is %s; it may admit: %s); an authority grants that with 'sixd did admit %s --onboard %s'",
			me.DID(), domain, admissionState(mine), listOrNone(mine.Props.Onboard), mine.Canonical.DID(), domain)
	}
	return nil
}

func admissionState(r *resolved) string {
	switch {
	case r.Props.Revoked:
		return "revoked"
	case !r.Active():
		return "deactivated"
	case r.Props.Admitted:
		return "admitted"
	}
	return "not admitted"
}

func listOrNone(ss []string) string {
	if len(ss) == 0 {
		return "none"
	}
	return strings.Join(ss, ", ")
}

func newDIDRevokeCmd() *cobra.Command {
	var (
		of      opFlags
		version uint64
	)
	cmd := &cobra.Command{
		Use:   "revoke DID|PEER-ID [--version N] [--wait]",
		Short: "Revoke a DID's admission (its admitter or an authority)",
		Long: `revoke marks a DID as revoked, signed by the home key, which must be an
authority or the entity that admitted the DID. A revoked DID may send no
transaction on any chain, and nodes drop its connections; it can be admitted
again later with 'sixd did admit'.

The operation applies to the DID's current version, which revoke reads from
the node unless --version is given.`,
		Example: `  sixd did revoke did:key:z6Mk... --wait`,
		Args:    exactArgs(1, "the DID (or peer ID) to revoke"),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			subject, err := parseKeyRef(args[0])
			if err != nil {
				return err
			}
			s, err := openSession(ctx, &of)
			if err != nil {
				return err
			}
			op := &types.DIDOp{Op: types.OpRevoke, Subject: subject, Version: version}
			if version == 0 {
				r, err := s.registered(ctx, args[0])
				if err != nil {
					return err
				}
				op.Version = r.Version
				if r.Props.Revoked {
					return fmt.Errorf("%s is revoked already", r.Canonical.DID())
				}
				me := s.key.Public()
				auth, err := s.isAuthority(ctx, me)
				if err != nil {
					return err
				}
				if !auth {
					mine, err := s.resolve(ctx, me.DID())
					if err != nil {
						return err
					}
					if !mine.Registered || mine.Key != me || !mine.Active() || mine.Canonical.DID() != r.Props.AdmittedBy {
						return fmt.Errorf("%s is neither an authority nor the admitter of %s", me.DID(), r.Canonical.DID())
					}
				}
			}
			return s.submitAndReport(ctx, cmd, op, fmt.Sprintf("%s revoked by %s", subject.DID(), s.did()))
		},
	}
	of.add(cmd)
	cmd.Flags().Uint64Var(&version, "version", 0, "the DID's current version (default: ask the node)")
	return cmd
}

// newDIDStateCmd builds deactivate or reactivate.
func newDIDStateCmd(kind types.DIDOpKind) *cobra.Command {
	var (
		of      opFlags
		version uint64
	)
	name := kind.String()
	long := `deactivate marks a DID as deactivated, signed by the home key, which must be
the current key of one of its controllers (threshold 1). A deactivated DID may
send no transaction but its own reactivation; resolvers show it deactivated.`
	example := `  sixd did deactivate did:key:z6Mk... --wait`
	if kind == types.OpReactivate {
		long = `reactivate makes a deactivated DID active again, signed by the home key, which
must be the current key of one of its controllers (threshold 1). A revoked DID
is not reactivated: it must be admitted again.`
		example = `  sixd did reactivate did:key:z6Mk... --wait`
	}
	cmd := &cobra.Command{
		Use:   name + " DID|PEER-ID [--version N] [--wait]",
		Short: strings.ToUpper(name[:1]) + name[1:] + " a DID (signed by a controller: the home key)",
		Long: long + `

The operation applies to the DID's current version, which ` + name + ` reads from
the node unless --version is given.`,
		Example: example,
		Args:    exactArgs(1, "the DID (or peer ID) to "+name),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			s, err := openSession(ctx, &of)
			if err != nil {
				return err
			}
			op, r, err := s.controllerOp(ctx, kind, args[0], version)
			if err != nil {
				return err
			}
			if r != nil && kind == types.OpDeactivate && r.Res.DIDDocumentMetadata.Deactivated && !r.Props.Revoked {
				return fmt.Errorf("%s is deactivated already", r.Canonical.DID())
			}
			return s.submitAndReport(ctx, cmd, op, fmt.Sprintf("%s %sd", op.Subject.DID(), name))
		},
	}
	of.add(cmd)
	cmd.Flags().Uint64Var(&version, "version", 0, "the DID's current version (default: ask the node)")
	return cmd
}

func newDIDRotateCmd() *cobra.Command {
	var (
		of      opFlags
		newKey  string
		version uint64
	)
	cmd := &cobra.Command{
		Use:   "rotate --new-key FILE [--version N] [--wait]",
		Short: "Rotate the home key's DID to a new key",
		Long: `rotate replaces the key of the home key's DID by the key in --new-key FILE
(a key file as 'sixd keys import-seed' or 'sixd init' write, plain or
encrypted). Both keys sign the operation: the current one as a controller
(threshold 1), the new one to prove it is held. The DID stays the same; its
document then lists the new key, and resolving it at an earlier time still
shows the old one.

After the rotation the old key may send no more transactions: switch the node
to the new key file (key_file in config.toml, or replace node.key) before it
sends again.`,
		Example: `  sixd keys import-seed - --out ./new.key < seed.hex
  sixd did rotate --new-key ./new.key --wait`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			nk, err := loadKey(newKey, "--new-key")
			if err != nil {
				return err
			}
			s, err := openSession(ctx, &of)
			if err != nil {
				return err
			}
			if nk.Public() == s.key.Public() {
				return fmt.Errorf("--new-key %s holds the home key itself", newKey)
			}
			op, r, err := s.controllerOp(ctx, types.OpRotateKey, s.did(), version)
			if err != nil {
				return err
			}
			pub := nk.Public()
			op.NewKey = pub[:]
			if r != nil {
				if r.Key != s.key.Public() {
					return fmt.Errorf("the home key %s is not the current key of its DID %s (that is %s)", s.did(), r.Canonical.DID(), r.Key.DID())
				}
				other, err := s.resolve(ctx, pub.DID())
				if err != nil {
					return err
				}
				if other.Registered {
					return fmt.Errorf("the new key %s belongs to %s already; use a fresh key", pub.DID(), other.Canonical.DID())
				}
			}
			op.Approve(s.chainID, s.key)
			op.Approve(s.chainID, nk)
			h, err := s.submit(ctx, op)
			if err != nil {
				return err
			}
			if _, err := s.report(cmd, h); err != nil {
				return err
			}
			w := cmd.OutOrStdout()
			did := s.did()
			if r != nil {
				did = r.Canonical.DID()
			}
			fmt.Fprintf(w, "%s: key %s -> %s\n", did, s.did(), pub.DID())
			fmt.Fprintf(w, "Switch the node to %s now (key_file in config.toml, or replace node.key): the old key may send no more transactions.\n", newKey)
			return nil
		},
	}
	of.add(cmd)
	cmd.Flags().StringVar(&newKey, "new-key", "", "key file of the new key (required)")
	cmd.Flags().Uint64Var(&version, "version", 0, "the DID's current version (default: ask the node)")
	_ = cmd.MarkFlagRequired("new-key") // fails only for an undefined flag
	return cmd
}

func newDIDServiceCmd() *cobra.Command {
	var (
		addFlags, rmFlags     opFlags
		addDID, rmDID         string
		id, typ, endpoint     string
		rmID                  string
		addVersion, rmVersion uint64
	)
	add := &cobra.Command{
		Use:   "add --id ID --type TYPE --endpoint URL [--did DID] [--version N] [--wait]",
		Short: "Add a service to a DID document (signed by a controller: the home key)",
		Long: `add adds a service entry (how to reach the entity: its libp2p address, an
MQTT or CoAP bridge, ...) to the DID of the home key, or to --did, of which the
home key must be a controller (threshold 1). The service's id in the document
is <did>#<ID>; ID is 1 to 32 of a-z, 0-9 and '-'.`,
		Example: `  sixd did service add --id mqtt --type MQTTBridge --endpoint mqtts://broker.example:8883 --wait`,
		Args:    noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			svc := types.Service{ID: id, Type: typ, Endpoint: endpoint}
			if err := svc.Validate(); err != nil {
				return err
			}
			ctx := cmd.Context()
			s, err := openSession(ctx, &addFlags)
			if err != nil {
				return err
			}
			ref := addDID
			if ref == "" {
				ref = s.did()
			}
			op, r, err := s.controllerOp(ctx, types.OpAddService, ref, addVersion)
			if err != nil {
				return err
			}
			if r != nil {
				for _, x := range r.Res.DIDDocument.Service {
					if strings.HasSuffix(x.ID, "#"+id) {
						return fmt.Errorf("%s has a service %q already; remove it first", r.Canonical.DID(), id)
					}
				}
			}
			op.Services = []types.Service{svc}
			return s.submitAndReport(ctx, cmd, op, "")
		},
	}
	addFlags.add(add)
	f := add.Flags()
	f.StringVar(&id, "id", "", "service id, the fragment of <did>#<id> (required)")
	f.StringVar(&typ, "type", "", "service type, e.g. LibP2P, MQTTBridge, CoAP (required)")
	f.StringVar(&endpoint, "endpoint", "", "service endpoint, e.g. a multiaddr or URL (required)")
	f.StringVar(&addDID, "did", "", "the DID to change (default: the home key's)")
	f.Uint64Var(&addVersion, "version", 0, "the DID's current version (default: ask the node)")
	for _, n := range []string{"id", "type", "endpoint"} {
		_ = add.MarkFlagRequired(n) // fails only for an undefined flag
	}

	remove := &cobra.Command{
		Use:   "remove --id ID [--did DID] [--version N] [--wait]",
		Short: "Remove a service from a DID document (signed by a controller: the home key)",
		Long: `remove removes the service <did>#<ID> from the DID of the home key, or of --did,
of which the home key must be a controller (threshold 1).`,
		Example: `  sixd did service remove --id mqtt --wait`,
		Args:    noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			s, err := openSession(ctx, &rmFlags)
			if err != nil {
				return err
			}
			ref := rmDID
			if ref == "" {
				ref = s.did()
			}
			op, r, err := s.controllerOp(ctx, types.OpRemoveService, ref, rmVersion)
			if err != nil {
				return err
			}
			if r != nil && !slices.ContainsFunc(r.Res.DIDDocument.Service, func(x identity.Service) bool { return strings.HasSuffix(x.ID, "#"+rmID) }) {
				return fmt.Errorf("%s has no service %q", r.Canonical.DID(), rmID)
			}
			op.ServiceID = rmID
			if err := op.Validate(); err != nil {
				return fmt.Errorf("--id: %w", err)
			}
			return s.submitAndReport(ctx, cmd, op, "")
		},
	}
	rmFlags.add(remove)
	remove.Flags().StringVar(&rmID, "id", "", "id of the service to remove (required)")
	remove.Flags().StringVar(&rmDID, "did", "", "the DID to change (default: the home key's)")
	remove.Flags().Uint64Var(&rmVersion, "version", 0, "the DID's current version (default: ask the node)")
	_ = remove.MarkFlagRequired("id") // fails only for an undefined flag
	return groupCmd("service", "Add or remove services of a DID document", add, remove)
}
