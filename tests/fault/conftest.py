"""The fault suite's fixtures (its helpers are in fault_lab.py; run it in a
pytest session of its own, as ./run test does: both suites have a conftest)."""
import pytest
from fault_lab import AnsibleRunner, DomainController, Lab, lab_fixtures


@pytest.fixture(scope="session")
def lab():
    return Lab()


@pytest.fixture(scope="session")
def dc(lab):
    return DomainController(lab)


@pytest.fixture
def kdc(lab, tmp_path):
    return lab_fixtures.Kdc(lab, tmp_path)


@pytest.fixture
def run_module(tmp_path):
    return AnsibleRunner(tmp_path)
