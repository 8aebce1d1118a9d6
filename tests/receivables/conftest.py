"""Fixtures the transform tests share: the reference tables of ``test_transform`` and their mapping lookup.

(``test_mappings`` and ``test_validate`` define fixtures of the same names for their own data; a module's own
fixture wins over this one.)
"""

from __future__ import annotations

import pytest
from tests.receivables.test_transform import lookup_for, reference_data


@pytest.fixture(scope="module")
def refdata():
    return reference_data()


@pytest.fixture(scope="module")
def lookup(refdata):
    return lookup_for(refdata)
