"""The viseme vocabulary shared by phoneme encoders and motion generators.

15 visemes in the MPEG-4 / Oculus lip-sync tradition; ARPAbet phones (as CMUdict and
pocketsphinx's en-us model spell them) map onto them. A ``features:visemes`` port carries
``[T, 15]`` per-frame weights over :data:`VISEMES` (rows sum to 1; ``sil`` = mouth at rest).
"""

from __future__ import annotations

VISEMES: tuple[str, ...] = (
    "sil", "PP", "FF", "TH", "DD", "kk", "CH", "SS", "nn", "RR", "aa", "E", "ih", "oh", "ou",
)

#: ARPAbet phone -> viseme (stress digits stripped before lookup).
PHONE_TO_VISEME: dict[str, str] = {
    "SIL": "sil", "+SPN+": "sil", "+NSN+": "sil", "+BREATH+": "sil", "+COUGH+": "sil", "+SMACK+": "sil",
    "+UH+": "sil", "+UM+": "sil", "+GARBAGE+": "sil", "+NOISE+": "sil",
    "P": "PP", "B": "PP", "M": "PP",
    "F": "FF", "V": "FF",
    "TH": "TH", "DH": "TH",
    "T": "DD", "D": "DD",
    "K": "kk", "G": "kk", "NG": "kk", "HH": "kk",
    "CH": "CH", "JH": "CH", "SH": "CH", "ZH": "CH",
    "S": "SS", "Z": "SS",
    "N": "nn", "L": "nn", "Y": "ih",
    "R": "RR", "ER": "RR",
    "AA": "aa", "AE": "aa", "AH": "aa", "AY": "aa", "AW": "aa",
    "EH": "E", "EY": "E",
    "IH": "ih", "IY": "ih",
    "AO": "oh", "OW": "oh", "OY": "oh",
    "UH": "ou", "UW": "ou", "W": "ou",
}


def phone_to_viseme(phone: str) -> str:
    """``'AH0'`` -> ``'aa'``; unknown phones count as silence."""
    key = phone.strip().upper()
    if key not in PHONE_TO_VISEME:
        key = key.rstrip("012")
    return PHONE_TO_VISEME.get(key, "sil")
