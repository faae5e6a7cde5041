"""Training losses (design section 3): negative SI-SNR with utterance-level PIT, segmental
quality under that permutation, and the signal-dependent complexity loss.

All functions are batched torch and differentiable where a gradient is meant to flow
(``pit_si_snr_loss``, ``complexity_loss`` w.r.t. the gate probabilities); the segmental
quality is computed under ``torch.no_grad`` because it only weights the complexity loss.
"""
from __future__ import annotations

import itertools
from dataclasses import dataclass

import torch

EPS = 1e-8


def si_snr_pairwise(references: torch.Tensor, estimates: torch.Tensor) -> torch.Tensor:
    """Zero-mean SI-SNR in dB of every (reference, estimate) pair.

    Shape: ``references [B, C, T]``, ``estimates [B, C, T]`` -> ``[B, C_ref, C_est]``.
    """
    s = references - references.mean(dim=-1, keepdim=True)
    e = estimates - estimates.mean(dim=-1, keepdim=True)
    dot = torch.einsum("bit,bjt->bij", s, e)                       # <s_i, e_j>
    s_energy = (s * s).sum(-1).unsqueeze(-1) + EPS                  # [B, C, 1]
    alpha = dot / s_energy                                          # scale of s_i in e_j
    target_energy = alpha * alpha * s_energy                        # ||alpha s_i||^2
    e_energy = (e * e).sum(-1).unsqueeze(-2)                        # [B, 1, C]
    noise_energy = (e_energy - 2 * alpha * dot + target_energy).clamp_min(0)
    return 10 * torch.log10((target_energy + EPS) / (noise_energy + EPS))


@dataclass
class PITResult:
    """Result of utterance-level PIT.

    Shape: ``si_snr [B]`` (mean over sources under the best permutation),
    ``permutation [B, C]`` (reference i <-> estimate permutation[b, i]),
    ``aligned [B, C, T]`` (estimates reordered to match the references).
    """

    si_snr: torch.Tensor
    permutation: torch.Tensor
    aligned: torch.Tensor


def pit_si_snr(references: torch.Tensor, estimates: torch.Tensor) -> PITResult:
    """Utterance-level permutation-invariant SI-SNR (all permutations; C is 2 or 3 here).

    Shape: ``references [B, C, T]``, ``estimates [B, C, T]``.
    """
    if references.shape != estimates.shape or references.dim() != 3:
        raise ValueError(f"pit_si_snr needs equal [B, C, T] tensors, got {tuple(references.shape)} "
                         f"and {tuple(estimates.shape)}")
    n_src = references.shape[1]
    pair = si_snr_pairwise(references, estimates)                    # [B, C, C]
    perms = torch.tensor(list(itertools.permutations(range(n_src))), device=pair.device)  # [P, C]
    idx = torch.arange(n_src, device=pair.device)
    scores = pair[:, idx.unsqueeze(0).expand_as(perms), perms].mean(-1)  # [B, P]
    best = scores.argmax(dim=-1)                                     # first max: deterministic
    si = scores.gather(1, best.unsqueeze(1)).squeeze(1)
    perm = perms[best]                                               # [B, C]
    aligned = torch.gather(estimates, 1, perm.unsqueeze(-1).expand_as(estimates))
    return PITResult(si_snr=si, permutation=perm, aligned=aligned)


def pit_si_snr_loss(references: torch.Tensor, estimates: torch.Tensor) -> torch.Tensor:
    """L_sep: negative utterance-level PIT SI-SNR, mean over the batch (a scalar).

    Shape: ``references [B, C, T]``, ``estimates [B, C, T]``.
    """
    return -pit_si_snr(references, estimates).si_snr.mean()


def segment_frames(signal: torch.Tensor, length: int, hop: int, n_segments: int) -> torch.Tensor:
    """Cut the last axis into ``n_segments`` segments of ``length`` samples every ``hop``
    samples, zero-padding the end.

    Shape: ``signal [..., T]`` -> ``[..., n_segments, length]``.
    """
    need = (n_segments - 1) * hop + length
    t = signal.shape[-1]
    if need > t:
        signal = torch.nn.functional.pad(signal, (0, need - t))
    return signal[..., :need].unfold(-1, length, hop)


def scaled_error(references: torch.Tensor, aligned: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The zero-mean references and the error of each aligned estimate scaled onto its
    reference with the utterance-level SI-SNR projection: ``e * ||s||^2 / <e, s> - s`` (so the
    target is ``s`` itself and ``||s||^2 / ||error||^2`` is the SI-SNR).

    Shape: ``references [B, C, T]``, ``aligned [B, C, T]`` -> ``[B, C, T]``, ``[B, C, T]``.
    """
    s = references - references.mean(-1, keepdim=True)
    e = aligned - aligned.mean(-1, keepdim=True)
    dot = (s * e).sum(-1, keepdim=True)
    s_energy = (s * s).sum(-1, keepdim=True) + EPS
    scale = s_energy / torch.where(dot.abs() < EPS, torch.full_like(dot, EPS), dot)
    return s, e * scale - s


@torch.no_grad()
def segmental_quality(references: torch.Tensor, aligned: torch.Tensor, length: int, hop: int,
                      n_segments: int, mode: str = "utterance") -> torch.Tensor:
    """Segmental quality q_s in dB of PIT-aligned estimates, no gradient.

    ``mode="utterance"`` (default): each estimate is first scaled to its reference with the
    utterance-level SI-SNR projection (so the scale invariance is that of the utterance), then
    per segment ``q_s = 10 log10(mean_c P_c / mean_c e_{c,s})`` where ``P_c`` is the mean power
    of reference c over the utterance and ``e_{c,s}`` the mean power of the error of source c
    in segment s. It is defined everywhere: a silent segment that is reproduced silently is
    easy (high q), as it should be for the complexity weighting.
    ``mode="relative"``: the ``utterance`` value minus the utterance's own level
    ``10 log10(mean_c P_c / mean_{c,t} error^2)``, so q_s says how much easier segment s is than
    the utterance as a whole (0 dB = average), independent of how good the model is overall.
    ``mode="local"``: the literal per-segment SI-SNR (zero-mean inside the segment), averaged
    over sources; undefined-ish (very low) where a reference is silent in the segment.

    Shape: ``references [B, C, T]``, ``aligned [B, C, T]`` -> ``[B, n_segments]``.
    """
    if mode == "local":
        ref = segment_frames(references, length, hop, n_segments)      # [B, C, S, L]
        est = segment_frames(aligned, length, hop, n_segments)
        b, c, s, l = ref.shape
        ref = ref.permute(0, 2, 1, 3).reshape(b * s, c, l)
        est = est.permute(0, 2, 1, 3).reshape(b * s, c, l)
        pair = si_snr_pairwise(ref, est)
        diag = torch.diagonal(pair, dim1=-2, dim2=-1).mean(-1)
        return diag.reshape(b, s)
    if mode not in ("utterance", "relative"):
        raise ValueError(f"unknown segmental quality mode {mode!r} (use 'utterance', 'relative' or 'local')")
    s, error = scaled_error(references, aligned)                       # [B, C, T] each
    ref_power = (s * s).mean(-1).mean(-1)                              # [B]
    err_seg = segment_frames(error, length, hop, n_segments).pow(2).mean(-1).mean(1)  # [B, S]
    q = 10 * torch.log10((ref_power.unsqueeze(-1) + EPS) / (err_seg + EPS * 1e-2))
    if mode == "relative":
        # relative to the utterance: error of the segment against the utterance's mean error
        utt = 10 * torch.log10((ref_power + EPS) / (error.pow(2).mean(-1).mean(1) + EPS * 1e-2))
        q = q - utt.unsqueeze(-1)
    return q


def complexity_loss(gate_probs: torch.Tensor, relative_macs: torch.Tensor, quality: torch.Tensor | None,
                    gamma: float, tau: float, segment_mask: torch.Tensor | None = None) -> torch.Tensor:
    """L_cplx = mean_s a_s * sum_k p_{s,k} * MAC_k / MAC_max, a_s = sigmoid((q_s - gamma) / tau).

    Segments already reconstructed well (q_s above gamma) pay for width; hard ones are let
    through. ``quality=None`` gives the signal-independent variant (a_s = 1).

    Shape: ``gate_probs [B, S, K]``, ``relative_macs [K]`` (MAC_k / MAC_max, max 1),
    ``quality [B, S]`` (dB), ``segment_mask [B, S]`` (1 = real segment) -> scalar.
    """
    cost = (gate_probs * relative_macs.to(gate_probs)).sum(-1)          # [B, S]
    if quality is None:
        weight = torch.ones_like(cost)
    else:
        weight = torch.sigmoid((quality.to(cost) - gamma) / tau).detach()
    per_segment = weight * cost
    if segment_mask is None:
        return per_segment.mean()
    mask = segment_mask.to(cost)
    return (per_segment * mask).sum() / mask.sum().clamp_min(1.0)


def total_loss(l_sep: torch.Tensor, l_cplx: torch.Tensor, lam: float) -> torch.Tensor:
    """L = L_sep + lambda * L_cplx."""
    return l_sep + lam * l_cplx
