"""PDF ingest: page numbers, passages that keep tables with their headings, skips and re-ingest."""

import io

import pypdf
import pytest
from django.core.management import call_command

from rag.models import Document, Passage
from rag.pdfparse import split_page
from rag.services import document_ingest
from rag.units import passage_units
from tests.rag.conftest import REPORT

SUBSET = [3, 16, 58]


@pytest.fixture
def report_path():
    if not REPORT.is_file():
        pytest.skip("seed report missing")
    return REPORT


def _one_page_pdf(path, *, password: str | None = None):
    reader = pypdf.PdfReader(str(REPORT))
    writer = pypdf.PdfWriter()
    writer.add_page(reader.pages[57])
    if password is not None:
        writer.encrypt(user_password=password, owner_password="owner")
    buffer = io.BytesIO()
    writer.write(buffer)
    path.write_bytes(buffer.getvalue())
    return path


@pytest.mark.django_db
def test_subset_ingest_keeps_pages_and_indexes_full_text(report_path):
    result = document_ingest(path=report_path, pages=SUBSET)
    assert result.status == "ingested" and result.pages == 3
    mine = Passage.objects.filter(document_id=result.document_id)
    assert set(mine.values_list("page", flat=True)) == set(SUBSET)
    assert not mine.filter(search__isnull=True).exists()
    # The GIN-indexed tsvector finds the oil-spill passage on page 58.
    hit = mine.filter(search="spills").values_list("page", flat=True)
    assert 58 in hit


@pytest.mark.django_db
def test_tables_keep_their_heading_and_year_columns(report_path):
    result = document_ingest(path=report_path, pages=[58])
    texts = [(p.heading, p.text) for p in Passage.objects.filter(document_id=result.document_id)]
    rows = [u for heading, text in texts for u in passage_units(heading, text) if u.kind == "row"]
    spills = [u.display() for u in rows if "96 100 108" in u.text]
    assert spills and "Oil spills" in spills[0] and "2024 2023 2022" in spills[0]
    pse = [u.display() for u in rows if "38 39 50" in u.text]
    assert pse and "process safety" in pse[0]


def test_key_figure_panels_take_their_labels():
    page = "2024 at a glance\nScale\n100,500a 61\nemployees countries of operation\n(2023 87,800) (2023 61)\n"
    units = [u.display() for h, t in split_page(page) for u in passage_units(h, t)]
    assert "employees countries of operation: 100,500a 61" in units
    kpi = "Safety\nlTier 1 and 2 process safety events«ab\n2024 38\n2023 39\n"
    units = [u.display() for h, t in split_page(kpi) for u in passage_units(h, t)]
    assert any(u.endswith("process safety events: 2024 38") for u in units)


@pytest.mark.django_db
def test_unchanged_reingest_does_nothing(report_path, capsys):
    documents = Document.objects.count()
    call_command("ingest_documents", str(report_path), "--pages", "58")
    count = Passage.objects.count()
    call_command("ingest_documents", str(report_path), "--pages", "58")
    out = capsys.readouterr().out
    assert "unchanged" in out and "nothing to do" in out
    assert Passage.objects.count() == count and Document.objects.count() == documents + 1


@pytest.mark.django_db
def test_encrypted_and_broken_pdfs_are_reported_and_skipped(tmp_path, report_path, capsys):
    locked = _one_page_pdf(tmp_path / "locked.pdf", password="secret")
    broken = tmp_path / "broken.pdf"
    broken.write_bytes(b"%PDF-1.7\n this is not really a pdf \x00\x01")
    readable = _one_page_pdf(tmp_path / "empty-password.pdf", password="")
    documents = Document.objects.count()
    call_command("ingest_documents", str(locked), str(broken), str(readable))
    captured = capsys.readouterr()
    assert "skipped" in captured.err and "locked.pdf" in captured.err and "encrypted" in captured.err
    assert "broken.pdf" in captured.err
    assert "ingested" in captured.out and "empty-password.pdf" in captured.out
    assert Document.objects.count() == documents + 1
    assert document_ingest(path=locked).status == "skipped"


def test_row_value_reads_the_cell_for_the_year_asked():
    from rag.units import Unit, row_value

    row = Unit("number 96 100 108", "row", label="Oil spills –", header="2024 2023 2022")
    assert row.display() == "Oil spills – number 96 100 108 (columns: 2024 2023 2022)"
    assert row_value(row, "2023") == "100" and row_value(row, "2021") is None
    assert row_value(Unit("2024 38", "row", label="Tier 1 and 2 process safety events"), "2024") == "38"
    assert row_value(Unit("events 39 33 26 7.5% 2.5%", "row", header="2024 2023 2022"), "2024") is None  # columns do not line up


def test_running_headers_and_footers_are_found_by_repetition_not_by_name():
    from rag.pdfparse import running_lines, split_page

    pages = {
        n: f"Quarterly Review of Anything {n}\nBody text {'abcdefg'[n]} talks about pumps.\n2024 2023\nAcme Corp Report 2031 {n}"
        for n in range(1, 7)
    }
    pages[7] = "A page without the header.\nAcme Corp Report 2031 7"
    running = running_lines(pages)
    assert running == {"quarterly review of anything", "acme corp report"}
    text = " ".join(t for _, t in split_page(pages[3], running))
    assert "pumps" in text and "2024 2023" in text and "Acme" not in text and "Quarterly" not in text


def test_key_figure_panel_columns_become_one_card_per_figure():
    from rag.panels import has_panel, panel_cards, panel_passages

    layout = "\n".join(
        [
            "2031 at a glance                                        Contents",
            "100,500a                    61                          Our strategy   8",
            "employees                   countries of operation      Risk factors  65",
            "(2030 87,800)               (2030 61)",
        ]
    )
    plain = "2031 at a glance\n100,500a 61\nemployees countries of operation\n(2030 87,800) (2030 61)"
    assert has_panel(plain)
    cards = panel_cards(layout)
    assert cards == ["employees 100,500a (2030 87,800)", "countries of operation 61 (2030 61)"]
    heading, text = panel_passages(plain, cards)[0]
    assert heading == "2031 at a glance – employees" and text == "employees 100,500a in 2031 (2030 87,800)"


@pytest.mark.django_db
def test_a_directory_of_good_and_hostile_pdfs_ingests_every_good_one(tmp_path, capsys):
    from tests.rag.pdf_samples import limit_reaching_pdf, pdf_bytes

    (tmp_path / "a-good.pdf").write_bytes(pdf_bytes("Pump station alpha runs three pumps"))
    (tmp_path / "b-limit.pdf").write_bytes(limit_reaching_pdf())
    (tmp_path / "c-truncated.pdf").write_bytes(pdf_bytes("Valve report")[:150])
    _one_page_pdf(tmp_path / "d-locked.pdf", password="secret")
    (tmp_path / "e-empty.pdf").write_bytes(b"")
    (tmp_path / "f-good.pdf").write_bytes(pdf_bytes("Compressor beta vibration limits"))
    documents = Document.objects.count()
    call_command("ingest_documents", str(tmp_path))
    captured = capsys.readouterr()
    assert "a-good.pdf" in captured.out and "f-good.pdf" in captured.out
    for name, reason in [
        ("b-limit.pdf", "LimitReachedError"),
        ("c-truncated.pdf", ""),
        ("d-locked.pdf", "encrypted"),
        ("e-empty.pdf", ""),
    ]:
        line = next(line for line in captured.err.splitlines() if name in line)
        assert line.startswith("skipped") and reason in line
    assert Document.objects.count() == documents + 2
    assert Passage.objects.filter(text__contains="Compressor beta").exists()
