"""Shared in-memory transformations of the third-party 837 fixtures, used by the reader and round-trip tests.

Every 837 fixture in ``../shared/fixtures/x12`` (the TR3 examples transcribed by stupidedi, the imsweb
files) codes its diagnoses in ICD-9-CM (HI qualifiers BK, BF, BJ, PR, BN). medbill claims carry ICD-10-CM
only, so the tests read an ICD-10 version made in memory by ``icd10ize``: each qualifier becomes its
ICD-10 counterpart (``ICD10_QUALIFIER``) and each code a clinically close ICD-10-CM code
(``ICD9_TO_ICD10``, test data, not a crosswalk). The files themselves are used as they are.
"""

from __future__ import annotations

from medbill.x12.tokenizer import Interchange, tokenize, write

TR3 = "x12/stupidedi-tr3-examples"
"""The TR3 examples, relative to the ``fixtures_dir`` fixture."""


# ICD-9-CM codes of the fixtures -> clinically close ICD-10-CM codes (test data for the in-memory ICD-10
# versions).
ICD9_TO_ICD10 = {
    "4779": "J309", "2724": "E785", "2780": "E669", "53081": "K219", "8628": "S279XXA", "E8888": "W1830XA",
    "9592": "S4990XA", "8540": "S069X0A", "36616": "H2510", "7215": "M4820", "0340": "J020", "V7389": "Z1159",
    "03591": "A46", "4659": "J069", "71516": "M1710", "71906": "M25469", "9951": "T783XXA", "496": "J449",
    "51881": "J9600", "2859": "D649", "25000": "E119", "436": "I679", "3449": "G839", "3669": "H269",
    "4019": "I10", "79431": "R9431", "8842": "S51809A", "E9750": "V4352XA", "E9860": "Y92410",
    "38181": "H6980", "38900": "H9020", "30000": "F419",
    # imsweb
    "8901": "S71109A", "87200": "S01309A", "5559": "K5090", "1987": "C7970", "4134": "I209", "1739": "C4490",
    "1988": "C7989", "1989": "C799",
}  # fmt: skip
ICD10_QUALIFIER = {"BK": "ABK", "BF": "ABF", "BJ": "ABJ", "PR": "APR", "BN": "ABN"}


def icd10ize(text: str) -> str:
    """The same file with its HI diagnosis composites in ICD-10 (ABK/ABF/... and the mapped codes).

    Also joins the imsweb form ``HI*BK*8901*BF*87200`` (qualifier and code in separate elements).
    Segment counts do not change.
    """
    document = tokenize(text)
    interchanges = []
    for interchange in document.interchanges:
        segs = []
        for seg in interchange.segments:
            if seg.id == "HI" and seg.component(1, 1) in ICD10_QUALIFIER:
                if all(isinstance(e, str) or len(e) == 2 for e in seg.elements) and not all(
                    isinstance(e, tuple) for e in seg.elements
                ):
                    flat = [x for e in seg.elements for x in (e if isinstance(e, tuple) else (e,)) if x]
                    pairs = list(zip(flat[::2], flat[1::2], strict=True))
                    elements = tuple((ICD10_QUALIFIER[q], ICD9_TO_ICD10[c]) for q, c in pairs)
                else:
                    elements = tuple(
                        (ICD10_QUALIFIER[e[0]], ICD9_TO_ICD10[e[1]]) + tuple(e[2:]) if isinstance(e, tuple) else e
                        for e in seg.elements
                    )
                seg = seg._replace(elements=elements)
            segs.append(seg)
        interchanges.append(Interchange(interchange.delimiters, tuple(segs)))
    return write(document.__class__(tuple(interchanges), document.bom, document.leading))
