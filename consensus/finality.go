package consensus

import (
	"bytes"
	"cmp"
	"errors"
	"fmt"
	"slices"

	"github.com/sixdomain/sixdomain/identity"
	"github.com/sixdomain/sixdomain/ledger/types"
)

// Errors of the finality gadget.
var (
	// ErrNotVoter: the vote's voter is not in the authority set of its
	// source.
	ErrNotVoter = errors.New("voter not in the authority set of the vote's source")
	// ErrConflictingFinality: a supermajority link would finalize a
	// checkpoint that conflicts with the finalized one. It is the safety
	// alarm: it implies that more than 1/3 of the authorities signed
	// conflicting votes (or that the authority set changed too much).
	// Stop, alert, and look for evidence.
	ErrConflictingFinality = errors.New("conflicting finalized checkpoints")
	// ErrBadCertificate: votes that do not form a supermajority link.
	ErrBadCertificate = errors.New("invalid finality certificate")
	// ErrUnknownCheckpoint: a certificate's source or target block is not
	// known yet; offer it again once it is.
	ErrUnknownCheckpoint = errors.New("checkpoint not known")
)

// Default bounds of the vote buffers.
const (
	// finalityMaxPending bounds the votes buffered for blocks not yet
	// known; the oldest is dropped first.
	finalityMaxPending = 100_000
	// finalityMaxPerHeight bounds the votes kept per voter and target
	// height. An honest voter casts one.
	finalityMaxPerHeight = 4
	// finalityEvidenceWindow is how many heights below the pruned
	// (finalized) height a voter's votes are still kept, counted against
	// its new votes only to find conflicts (evidence).
	finalityEvidenceWindow = 64
)

// BlockInfo is what the gadget needs from the block tree.
type BlockInfo interface {
	Known(c types.Checkpoint) bool
	// IsAncestor reports whether a is b or an ancestor of b (both known).
	IsAncestor(a, b types.Checkpoint) bool
	// Voters returns the authority set that votes on links whose source is c.
	Voters(c types.Checkpoint) ([]identity.PublicKey, bool)
}

// Update is what one AddVote, AddCertificate or Retry changed.
type Update struct {
	Justified []types.Checkpoint // newly justified, ascending
	Finalized *types.Checkpoint  // newly finalized (highest), or nil
	Evidence  []*types.Evidence  // conflicting vote pairs discovered
	// Err is non-nil, wrapping ErrConflictingFinality, when a supermajority
	// link would have finalized a checkpoint conflicting with the finalized
	// one (it was not finalized). AddVote returns it as its error too.
	Err error
}

// ffgVote is a vote the gadget holds: counted on its link, waiting for
// blocks (pending), or retained for conflict detection only.
type ffgVote struct {
	v       *types.FinalityVote
	hash    types.Hash
	pending bool // in Finality.pending
}

type ffgLinkKey struct{ s, t types.Checkpoint }

// ffgLink tallies the votes of one source → target link.
type ffgLink struct {
	members map[identity.PublicKey]struct{} // Voters(s)
	voted   map[identity.PublicKey]struct{}
	votes   []*types.FinalityVote
	done    bool // processed as a supermajority link with a justified source
}

func (l *ffgLink) supermajority() bool { return 3*len(l.voted) > 2*len(l.members) }

// ffgJustification records how a checkpoint was justified.
type ffgJustification struct {
	// votes is the certificate; nil for the checkpoint the gadget started
	// from and for sources of certificates (see AddCertificate).
	votes []*types.FinalityVote
}

// Finality is a Casper FFG finality gadget over block checkpoints (see the
// package doc). It is not safe for concurrent use.
type Finality struct {
	justified map[types.Checkpoint]*ffgJustification
	highest   types.Checkpoint // highest justified, compatible with finalized
	finalized types.Checkpoint
	finCert   []*types.FinalityVote // the link that finalized it; nil for the start
	pruned    uint64                // votes with targets at or below are forgotten

	links    map[ffgLinkKey]*ffgLink
	bySource map[types.Checkpoint][]ffgLinkKey
	byVoter  map[identity.PublicKey][]*ffgVote // counted, pending and retained votes
	seen     map[types.Hash]uint64             // vote hash -> target height
	pending  []*ffgVote                        // arrival order

	own    types.FinalityVote
	hasOwn bool

	maxPending, maxPerHeight int
}

// NewFinality returns a gadget whose genesis checkpoint is justified and
// finalized.
func NewFinality(genesis types.Checkpoint) *Finality {
	return &Finality{
		justified: map[types.Checkpoint]*ffgJustification{genesis: {}},
		highest:   genesis, finalized: genesis,
		links: map[ffgLinkKey]*ffgLink{}, bySource: map[types.Checkpoint][]ffgLinkKey{},
		byVoter: map[identity.PublicKey][]*ffgVote{}, seen: map[types.Hash]uint64{},
		maxPending: finalityMaxPending, maxPerHeight: finalityMaxPerHeight,
	}
}

// Justified returns the highest justified checkpoint (that does not
// conflict with the finalized one).
func (f *Finality) Justified() types.Checkpoint { return f.highest }

// Finalized returns the highest finalized checkpoint.
func (f *Finality) Finalized() types.Checkpoint { return f.finalized }

// IsJustified reports whether c is justified. After Prune it knows only
// checkpoints above the pruned height, the finalized and the highest
// justified one.
func (f *Finality) IsJustified(c types.Checkpoint) bool { return f.justified[c] != nil }

// Certificate returns the votes of the supermajority link that justified
// c, nil if c is not known to be justified or was justified without votes
// here (the checkpoint NewFinality started from, the source of a
// certificate). VerifyCertificate checks them against Voters(source).
func (f *Finality) Certificate(c types.Checkpoint) []*types.FinalityVote {
	j := f.justified[c]
	if j == nil || len(j.votes) == 0 {
		return nil
	}
	return ffgCloneVotes(j.votes)
}

// FinalizingCertificate returns the votes of the link that finalized the
// finalized checkpoint (a link from it to its child, or its commit link),
// nil for the checkpoint NewFinality started from.
func (f *Finality) FinalizingCertificate() []*types.FinalityVote {
	if len(f.finCert) == 0 {
		return nil
	}
	return ffgCloneVotes(f.finCert)
}

// Certificates returns what a peer needs to reach this gadget's
// justified checkpoints from its finalized one: the certificate of the
// link that finalized it (none for the checkpoint NewFinality started
// from), then those of the justified checkpoints above it, by ascending
// height. Passed to AddCertificate in that order, they justify on the
// peer what they justify here — including on a peer that restarted from
// the same finalized checkpoint and lost its justifications, or that
// missed votes. Gossip them now and then (anti-entropy), and persist
// them with the own last vote to feed them back after a restart:
// otherwise honest views can drift apart for good (see the package doc).
func (f *Finality) Certificates() [][]*types.FinalityVote {
	var out [][]*types.FinalityVote
	var finLink ffgLinkKey
	if len(f.finCert) > 0 {
		out = append(out, ffgCloneVotes(f.finCert))
		finLink = ffgLinkKey{f.finCert[0].Source, f.finCert[0].Target}
	}
	var above []types.Checkpoint
	for c, j := range f.justified {
		if c.Height > f.finalized.Height && len(j.votes) > 0 && (ffgLinkKey{j.votes[0].Source, c}) != finLink {
			above = append(above, c)
		}
	}
	slices.SortFunc(above, func(a, b types.Checkpoint) int {
		if a.Height != b.Height {
			return cmp.Compare(a.Height, b.Height)
		}
		return bytes.Compare(a.Hash[:], b.Hash[:])
	})
	for _, c := range above {
		out = append(out, ffgCloneVotes(f.justified[c].votes))
	}
	return out
}

// AddVote takes a vote whose signature and chain ID the caller has
// verified.
//
// It refuses (with an error wrapping types.ErrBadVote) a vote whose target
// is neither above its source nor the same checkpoint (a commit vote), or
// whose source is known but is not an ancestor of its known target, and (with ErrNotVoter) one whose voter is not in
// Voters(source). A vote that Conflicts with one the gadget holds from the
// same voter is not counted: the pair is returned as Evidence. Duplicates
// are ignored, as are votes beyond a few per voter and target height, and
// votes for targets at or below the pruned height. A vote whose source or
// target is not known yet is buffered (the oldest is dropped beyond a
// bound) until Retry finds its blocks; a vote whose source is not yet
// justified is tallied and takes effect when the source is justified.
//
// Besides a refusal, AddVote's error can be the safety alarm
// ErrConflictingFinality, also in Update.Err; the Update is then still
// valid.
func (f *Finality) AddVote(v *types.FinalityVote, info BlockInfo) (Update, error) {
	var u Update
	if v == nil {
		return u, fmt.Errorf("%w: nil vote", types.ErrBadVote)
	}
	if err := v.CheckLink(); err != nil {
		return u, err
	}
	h := v.Hash()
	if _, dup := f.seen[h]; dup {
		return u, nil
	}
	if info.Known(v.Source) {
		if voters, ok := info.Voters(v.Source); ok && !slices.Contains(voters, v.Voter) {
			return u, fmt.Errorf("%w: %s for source %d", ErrNotVoter, v.Voter.DID(), v.Source.Height)
		}
	}
	rec := &ffgVote{v: ffgCloneVote(v), hash: h}
	same := 0
	for _, old := range f.byVoter[v.Voter] {
		if ffgConflict(old.v, rec.v) {
			if ev, err := types.NewEvidence(old.v, rec.v); err == nil {
				u.Evidence = append(u.Evidence, ev)
			}
			f.seen[h] = v.Target.Height
			return u, nil
		}
		if old.v.Target.Height == v.Target.Height {
			same++
		}
	}
	if v.Target.Height <= f.pruned || same >= f.maxPerHeight {
		return u, nil
	}
	f.seen[h] = v.Target.Height
	f.byVoter[v.Voter] = append(f.byVoter[v.Voter], rec)
	err := f.place(rec, info, &u)
	f.finish(&u, info)
	if err == nil {
		err = u.Err
	}
	return u, err
}

// AddCertificate takes a certificate — the votes of a supermajority link,
// as Certificate returns them — from a peer. It checks it with
// VerifyCertificate against Voters(source), signatures included, and that
// the source is an ancestor of the target, then adds its votes like
// AddVote, except that a vote conflicting with one the gadget holds from
// the same voter counts all the same (the conflict is reported as
// Evidence unless it was before), and the per-voter bound does not apply.
//
// The certificate's source counts as justified even if this gadget never
// saw it justified (it lagged, restarted, or missed votes), provided it
// is on the finalized chain: honest authorities vote only from sources
// they saw justified, and unless 2/3 or more of the authorities are
// byzantine every supermajority holds an honest vote, so by induction
// a supermajority link proves a chain of supermajority links into its
// source (a commit certificate, source == target, proves its block
// justified the same way: honest authorities commit-vote only blocks
// they saw justified). A direct-link or commit certificate thus finalizes
// its source on a gadget that is behind.
//
// Certificates keep honest views from diverging: which of an
// equivocator's conflicting votes AddVote counts depends on arrival
// order, and lost votes or a restart leave a node without justifications
// others have; honest nodes then vote from different sources and stall
// for good. A node should gossip Certificate(c) for each checkpoint c it
// newly justifies, gossip Certificates now and then, and feed what it
// receives here.
//
// It fails with ErrUnknownCheckpoint while the source or target block is
// not known, and with ErrBadCertificate if the certificate is invalid.
func (f *Finality) AddCertificate(chainID string, votes []*types.FinalityVote, info BlockInfo) (Update, error) {
	var u Update
	if len(votes) == 0 || votes[0] == nil {
		return u, fmt.Errorf("%w: no votes", ErrBadCertificate)
	}
	s, t := votes[0].Source, votes[0].Target
	if l := f.links[ffgLinkKey{s, t}]; l != nil && l.done || f.justified[t] != nil && !finalizingLink(s, t) || t.Height <= f.pruned {
		return u, nil // nothing to learn from it
	}
	if !info.Known(s) || !info.Known(t) {
		return u, fmt.Errorf("%w: certificate %d → %d", ErrUnknownCheckpoint, s.Height, t.Height)
	}
	voters, ok := info.Voters(s)
	if !ok {
		return u, fmt.Errorf("%w: voters of %d", ErrUnknownCheckpoint, s.Height)
	}
	if _, _, err := VerifyCertificate(chainID, votes, voters); err != nil {
		return u, err
	}
	if !info.IsAncestor(s, t) {
		return u, fmt.Errorf("%w: %w: source %d is not an ancestor of target %d", ErrBadCertificate, types.ErrBadVote, s.Height, t.Height)
	}
	if f.justified[s] == nil && f.compatible(s, info) {
		// The link proves its source justified (see above).
		f.justified[s] = &ffgJustification{}
		u.Justified = append(u.Justified, s)
		if s.Height > f.highest.Height {
			f.highest = s
		}
	}
	for _, v := range votes {
		h := v.Hash()
		if i := slices.IndexFunc(f.byVoter[v.Voter], func(r *ffgVote) bool { return r.hash == h }); i >= 0 {
			// Held: counted, or waiting for a Retry that its blocks,
			// known now, have not had yet.
			if rec := f.byVoter[v.Voter][i]; rec.pending {
				f.pending[slices.Index(f.pending, rec)] = nil
				rec.pending = false
				_ = f.place(rec, info, &u) // a refusal only forgets the vote, as in Retry
			}
			continue
		}
		rec := &ffgVote{v: ffgCloneVote(v), hash: h}
		if _, reported := f.seen[h]; !reported {
			for _, old := range f.byVoter[v.Voter] {
				if ffgConflict(old.v, rec.v) {
					if ev, err := types.NewEvidence(old.v, rec.v); err == nil {
						u.Evidence = append(u.Evidence, ev)
					}
					break
				}
			}
		}
		f.seen[h] = t.Height
		f.byVoter[v.Voter] = append(f.byVoter[v.Voter], rec)
		_ = f.place(rec, info, &u) // verified above: members, ancestor, known blocks
	}
	// Links from s counted before s was known to be justified (votes held
	// already) are resolved now that it is.
	for _, k := range slices.Clone(f.bySource[s]) {
		f.resolve(k, info, &u)
	}
	f.finish(&u, info)
	return u, u.Err
}

// Retry reconsiders the buffered votes; call it after new blocks arrive.
func (f *Finality) Retry(info BlockInfo) Update {
	var u Update
	old := f.pending
	f.pending = make([]*ffgVote, 0, len(old))
	for _, rec := range old {
		if rec == nil {
			continue
		}
		rec.pending = false
		_ = f.place(rec, info, &u) // refusals only forget the vote
	}
	f.finish(&u, info)
	return u
}

// place counts rec on its link, or buffers it until its blocks are known.
func (f *Finality) place(rec *ffgVote, info BlockInfo, u *Update) error {
	v := rec.v
	if !info.Known(v.Source) || !info.Known(v.Target) {
		f.buffer(rec)
		return nil
	}
	voters, ok := info.Voters(v.Source)
	if !ok {
		f.buffer(rec)
		return nil
	}
	if !slices.Contains(voters, v.Voter) {
		f.forget(rec)
		return fmt.Errorf("%w: %s for source %d", ErrNotVoter, v.Voter.DID(), v.Source.Height)
	}
	if !info.IsAncestor(v.Source, v.Target) {
		// Kept for conflict detection, never counted.
		return fmt.Errorf("%w: source %d is not an ancestor of target %d", types.ErrBadVote, v.Source.Height, v.Target.Height)
	}
	k := ffgLinkKey{v.Source, v.Target}
	l := f.links[k]
	if l == nil {
		l = &ffgLink{members: make(map[identity.PublicKey]struct{}, len(voters)), voted: map[identity.PublicKey]struct{}{}}
		for _, p := range voters {
			l.members[p] = struct{}{}
		}
		f.links[k] = l
		f.bySource[k.s] = append(f.bySource[k.s], k)
	}
	if _, dup := l.voted[v.Voter]; dup {
		return nil
	}
	l.voted[v.Voter] = struct{}{}
	if !l.done {
		l.votes = append(l.votes, v)
		f.resolve(k, info, u)
	}
	return nil
}

// buffer appends rec to the pending votes, dropping the oldest beyond the
// bound.
func (f *Finality) buffer(rec *ffgVote) {
	for len(f.pending) >= f.maxPending && len(f.pending) > 0 {
		old := f.pending[0]
		f.pending[0] = nil
		f.pending = f.pending[1:]
		if old != nil {
			old.pending = false
			f.forget(old)
		}
	}
	rec.pending = true
	f.pending = append(f.pending, rec)
}

// forget drops rec from the per-voter index and the seen set.
func (f *Finality) forget(rec *ffgVote) {
	voter := rec.v.Voter
	recs := slices.DeleteFunc(f.byVoter[voter], func(r *ffgVote) bool { return r == rec })
	if len(recs) == 0 {
		delete(f.byVoter, voter)
	} else {
		f.byVoter[voter] = recs
	}
	delete(f.seen, rec.hash)
}

// resolve processes the link k, if it is a supermajority link from a
// justified source, and then every link its justification enables.
func (f *Finality) resolve(k ffgLinkKey, info BlockInfo, u *Update) {
	work := []ffgLinkKey{k}
	for len(work) > 0 {
		k, work = work[0], work[1:]
		l := f.links[k]
		if l == nil || l.done || !l.supermajority() || f.justified[k.s] == nil {
			continue
		}
		l.done = true
		s, t := k.s, k.t
		if finalizingLink(s, t) {
			fin := f.finalized
			switch {
			case s == fin || s.Height < fin.Height && info.IsAncestor(s, fin):
				// Already final.
			case s.Height > fin.Height && info.IsAncestor(fin, s):
				f.finalized, f.finCert = s, slices.Clone(l.votes)
				u.Finalized = &s
			default:
				u.Err = errors.Join(u.Err, fmt.Errorf("%w: link %d/%s → %d/%s finalizes %d/%s, finalized is %d/%s",
					ErrConflictingFinality, s.Height, s.Hash, t.Height, t.Hash, s.Height, s.Hash, fin.Height, fin.Hash))
				continue
			}
		}
		if f.justified[t] != nil || !f.compatible(t, info) {
			continue
		}
		f.justified[t] = &ffgJustification{votes: slices.Clone(l.votes)}
		u.Justified = append(u.Justified, t)
		if t.Height > f.highest.Height {
			f.highest = t
		}
		work = append(work, f.bySource[t]...)
	}
}

// finalizingLink reports whether a supermajority link s → t finalizes a
// justified s: t is a child of s (epoch 2h → 2h+2, with nothing
// justifiable at 2h+1 but through s itself), or t is s (a commit link,
// epoch 2h → 2h+1). A commit link justifies nothing new: its target
// epoch 2h+1 is never the source of a vote.
func finalizingLink(s, t types.Checkpoint) bool { return t.Height == s.Height+1 || s == t }

// FinalizedBy returns the checkpoint a certificate's link finalizes when
// its source is justified — its source, if the link goes to a child of the
// source or is a commit link — and false for other links. It does not
// verify the votes (VerifyCertificate does).
func FinalizedBy(votes []*types.FinalityVote) (types.Checkpoint, bool) {
	if len(votes) == 0 || votes[0] == nil || !finalizingLink(votes[0].Source, votes[0].Target) {
		return types.Checkpoint{}, false
	}
	return votes[0].Source, true
}

// compatible reports whether c is on the finalized checkpoint's chain:
// the finalized checkpoint, an ancestor or a descendant of it.
func (f *Finality) compatible(c types.Checkpoint, info BlockInfo) bool {
	fin := f.finalized
	switch {
	case c == fin:
		return true
	case c.Height > fin.Height:
		return info.IsAncestor(fin, c)
	case c.Height < fin.Height:
		return info.IsAncestor(c, fin)
	}
	return false
}

// finish sorts the update and keeps the highest justified checkpoint on
// the finalized chain.
func (f *Finality) finish(u *Update, info BlockInfo) {
	slices.SortStableFunc(u.Justified, func(a, b types.Checkpoint) int { return cmp.Compare(a.Height, b.Height) })
	if u.Finalized == nil || f.compatible(f.highest, info) {
		return
	}
	best := f.finalized
	for c := range f.justified {
		if (c.Height > best.Height || c.Height == best.Height && bytes.Compare(c.Hash[:], best.Hash[:]) < 0) &&
			c.Height > f.finalized.Height && f.compatible(c, info) {
			best = c
		}
	}
	f.highest = best
}

// NextVote returns the (unsigned) vote an honest authority self casts when
// its head becomes head: source is the highest justified checkpoint that
// is a proper ancestor of head, target is head. ok is false if head is not
// known, does not descend from the finalized checkpoint, is not above the
// target of self's last vote, if that source is lower than the source of
// self's last vote, or if self is not a voter of that source: votes that
// could conflict with self's earlier ones are never returned. A returned
// vote is recorded as self's last vote (OwnLastVote); persist it before
// signing and broadcasting it, then AddVote the signed vote.
func (f *Finality) NextVote(chainID string, self identity.PublicKey, head types.Checkpoint, info BlockInfo) (types.FinalityVote, bool) {
	var none types.FinalityVote
	if head.Height <= f.finalized.Height || !info.Known(head) || !info.IsAncestor(f.finalized, head) {
		return none, false
	}
	if f.hasOwn && head.Height <= f.own.Target.Height {
		return none, false
	}
	var src types.Checkpoint
	found := false
	for c := range f.justified {
		if c.Height >= head.Height || found && c.Height <= src.Height || c.Height < f.finalized.Height {
			continue
		}
		if info.Known(c) && info.IsAncestor(c, head) {
			src, found = c, true
		}
	}
	if !found || f.hasOwn && src.Height < f.own.Source.Height {
		return none, false
	}
	if voters, ok := info.Voters(src); !ok || !slices.Contains(voters, self) {
		return none, false
	}
	v := types.FinalityVote{ChainID: chainID, Source: src, Target: head, Voter: self}
	// Defence in depth: self's votes the gadget has seen, e.g. from a
	// previous run.
	for _, old := range f.byVoter[self] {
		if ffgConflict(old.v, &v) {
			return none, false
		}
	}
	f.own, f.hasOwn = v, true
	return v, true
}

// NextCommit returns the (unsigned) commit vote an honest authority self
// casts once its highest justified checkpoint c, above the finalized one,
// is head or an ancestor of head: Source == Target == c, the FFG link from
// c's epoch 2h to epoch 2h+1, which finalizes c in its own slot when more
// than 2/3 of Voters(c) sign it. ok is false unless self's last vote (a
// normal or a commit vote) has its target at or below c's height and is
// not a commit vote at c's height, and self is a voter of c. So no earlier
// normal vote of self surrounds the commit vote (its target would be above
// c) and self never commits two blocks at one height; NextVote then takes
// the commit vote as self's last vote, so later normal votes have sources
// at or above c and targets above it, and never surround it either. A
// returned vote is recorded as self's last vote; persist it (with the
// recovery record) before signing and broadcasting it, then AddVote it.
func (f *Finality) NextCommit(chainID string, self identity.PublicKey, head types.Checkpoint, info BlockInfo) (types.FinalityVote, bool) {
	var none types.FinalityVote
	c := f.highest
	if c.Height <= f.finalized.Height || f.justified[c] == nil ||
		f.hasOwn && (f.own.Target.Height > c.Height || f.own.Target.Height == c.Height && f.own.IsCommit() || f.own.Source.Height > c.Height) {
		return none, false
	}
	if !info.Known(head) || !info.Known(c) || !info.IsAncestor(c, head) {
		return none, false
	}
	if voters, ok := info.Voters(c); !ok || !slices.Contains(voters, self) {
		return none, false
	}
	v := types.FinalityVote{ChainID: chainID, Source: c, Target: c, Voter: self}
	for _, old := range f.byVoter[self] {
		if ffgConflict(old.v, &v) {
			return none, false
		}
	}
	f.own, f.hasOwn = v, true
	return v, true
}

// OwnLastVote returns the last vote NextVote or NextCommit returned (or
// SetOwnLastVote set), for the caller to persist.
func (f *Finality) OwnLastVote() (types.FinalityVote, bool) {
	if !f.hasOwn {
		return types.FinalityVote{}, false
	}
	return *ffgCloneVote(&f.own), true
}

// SetOwnLastVote restores self's last vote (normal or commit) after a
// restart, so that NextVote and NextCommit never return a vote
// conflicting with it. It replaces the recorded one.
func (f *Finality) SetOwnLastVote(v types.FinalityVote) {
	f.own, f.hasOwn = *ffgCloneVote(&v), true
}

// Prune forgets votes, tallies and justifications for targets at or below
// height, keeping the justified and finalized pointers (and their
// certificates). height is capped at the finalized height: what lies
// above it is still needed.
func (f *Finality) Prune(height uint64) {
	height = min(height, f.finalized.Height)
	if height <= f.pruned {
		return
	}
	f.pruned = height
	// Votes are kept for conflict detection finalityEvidenceWindow heights
	// below the pruned height: with a commit round, a block is final
	// within its slot, before an equivocator's second vote for it may
	// arrive, and that vote must still meet the first.
	keep := height - min(height, finalityEvidenceWindow)
	for voter, recs := range f.byVoter {
		recs = slices.DeleteFunc(recs, func(r *ffgVote) bool { return r.v.Target.Height <= keep })
		if len(recs) == 0 {
			delete(f.byVoter, voter)
		} else {
			f.byVoter[voter] = recs
		}
	}
	for h, th := range f.seen {
		if th <= keep {
			delete(f.seen, h)
		}
	}
	f.pending = slices.DeleteFunc(f.pending, func(r *ffgVote) bool { return r == nil || r.v.Target.Height <= height })
	for k := range f.links {
		if k.t.Height <= height {
			delete(f.links, k)
		}
	}
	for s, ks := range f.bySource {
		ks = slices.DeleteFunc(ks, func(k ffgLinkKey) bool { return k.t.Height <= height })
		if len(ks) == 0 {
			delete(f.bySource, s)
		} else {
			f.bySource[s] = ks
		}
	}
	for c := range f.justified {
		if c.Height <= height && c != f.finalized && c != f.highest {
			delete(f.justified, c)
		}
	}
}

// VerifyCertificate checks, standalone, that votes form a supermajority
// link source → target (target above source, or a commit link: target ==
// source) under voters: every vote is for chainID and that
// one link, from a distinct member of voters, with a valid signature, and
// more than 2/3 of voters signed. Syncing nodes use it on certificates
// (Finality.Certificate) with the voters of the source.
func VerifyCertificate(chainID string, votes []*types.FinalityVote, voters []identity.PublicKey) (source, target types.Checkpoint, err error) {
	var none types.Checkpoint
	members := make(map[identity.PublicKey]struct{}, len(voters))
	for _, p := range voters {
		members[p] = struct{}{}
	}
	if len(votes) == 0 || votes[0] == nil {
		return none, none, fmt.Errorf("%w: no votes", ErrBadCertificate)
	}
	if len(votes) > len(members) {
		return none, none, fmt.Errorf("%w: %d votes for %d voters", ErrBadCertificate, len(votes), len(members))
	}
	source, target = votes[0].Source, votes[0].Target
	if err := votes[0].CheckLink(); err != nil {
		return none, none, fmt.Errorf("%w: %w", ErrBadCertificate, err)
	}
	signed := make(map[identity.PublicKey]struct{}, len(votes))
	for i, v := range votes {
		switch {
		case v == nil:
			return none, none, fmt.Errorf("%w: vote %d is nil", ErrBadCertificate, i)
		case v.ChainID != chainID:
			return none, none, fmt.Errorf("%w: %w: vote %d is for chain %q", ErrBadCertificate, types.ErrWrongChain, i, v.ChainID)
		case v.Source != source || v.Target != target:
			return none, none, fmt.Errorf("%w: vote %d is for link %d → %d, vote 0 for %d → %d",
				ErrBadCertificate, i, v.Source.Height, v.Target.Height, source.Height, target.Height)
		}
		if _, ok := members[v.Voter]; !ok {
			return none, none, fmt.Errorf("%w: %w: vote %d by %s", ErrBadCertificate, ErrNotVoter, i, v.Voter.DID())
		}
		if _, dup := signed[v.Voter]; dup {
			return none, none, fmt.Errorf("%w: two votes by %s", ErrBadCertificate, v.Voter.DID())
		}
		signed[v.Voter] = struct{}{}
	}
	if 3*len(signed) <= 2*len(members) {
		return none, none, fmt.Errorf("%w: %d of %d voters, more than 2/3 needed", ErrBadCertificate, len(signed), len(members))
	}
	for i, v := range votes {
		if err := v.VerifySignature(); err != nil {
			return none, none, fmt.Errorf("%w: vote %d: %w", ErrBadCertificate, i, err)
		}
	}
	return source, target, nil
}

// ffgConflict is types.Conflict, with a cheap test of the heights first
// (a necessary condition on the epochs of types.Conflict too: a surround
// on epochs has strictly nested source heights and target heights nested
// or equal).
func ffgConflict(a, b *types.FinalityVote) bool {
	if a.Target.Height != b.Target.Height &&
		!(a.Source.Height < b.Source.Height && b.Target.Height < a.Target.Height) &&
		!(b.Source.Height < a.Source.Height && a.Target.Height < b.Target.Height) {
		return false
	}
	_, bad := types.Conflict(a, b)
	return bad
}

func ffgCloneVotes(vs []*types.FinalityVote) []*types.FinalityVote {
	out := make([]*types.FinalityVote, len(vs))
	for i, v := range vs {
		out[i] = ffgCloneVote(v)
	}
	return out
}

func ffgCloneVote(v *types.FinalityVote) *types.FinalityVote {
	c := *v
	c.Signature = bytes.Clone(v.Signature)
	return &c
}
