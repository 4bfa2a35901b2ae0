"""Paper claims: CMS-1500 (02/12) and UB-04 (CMS-1450) PDFs from the same claims as the 837.

``render_cms1500(claims, form=True)`` and ``render_ub04(claims, form=True)`` return PDF bytes; with
``form=False`` they print the data alone, positioned for pre-printed red OCR forms.
"""

from medbill.paper.cms1500 import cms1500_pages, render_cms1500
from medbill.paper.layout import PaperFormError
from medbill.paper.ub04 import render_ub04, ub04_pages

__all__ = ["PaperFormError", "cms1500_pages", "render_cms1500", "render_ub04", "ub04_pages"]
