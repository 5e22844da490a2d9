"""One contract, every available store (PostgreSQL always; MongoDB when reachable)."""

from datetime import UTC, datetime

from imaging.compliance import record_effective


def make_record(path, *, device_type="turbine", site="WY-ALPHA", people=(), vec=(1.0, 0.0), model="m1"):
    analysis = {
        "persons": {"value": len(people), "confidence": 0.8},
        "people": [
            {"hard_hat": {"value": h}, "safety_vest": {"value": v}, "inspection_equipment": {"value": t}} for h, v, t in people
        ],
        "description": f"{len(people)} workers",
        "keywords": ["worker"] if people else ["equipment"],
        "quality": {"ok": True},
    }
    record = {
        "path": path,
        "filename": path.rsplit("/", 1)[-1],
        "category": "TurbineImages",
        "device_type": device_type,
        "auto_site_id": site,
        "content_hash": "h" + path,
        "file_size": 10,
        "file_mtime": 1.0,
        "width": 10,
        "height": 10,
        "analysis": analysis,
        "review": {},
        "reviewed_by": "",
        "reviewed_at": None,
        "embedding": list(vec),
        "embedding_model": model,
        "provider": "test",
        "processed_at": datetime(2026, 11, 27, tzinfo=UTC),
    }
    record.update(record_effective(analysis=analysis, review={}, site_id=site))
    return record


def test_save_get_and_upsert_by_path(store):
    saved = store.save(make_record("/x/a.jpg", people=[(True, True, True)]))
    assert isinstance(saved["id"], str)
    got = store.get(saved["id"])
    assert got["filename"] == "a.jpg" and got["safety_compliance"]["compliance_score"] == 100
    assert store.get_by_path("/x/a.jpg")["id"] == saved["id"]
    again = store.save({**make_record("/x/a.jpg", people=[(False, False, False)]), "content_hash": "new"})
    assert again["id"] == saved["id"] and again["content_hash"] == "new"
    assert again["safety_compliance"]["compliance_score"] == 0
    assert store.get("999999999") is None and store.get("not-an-id") is None
    assert store.paths() == {"/x/a.jpg"}


def test_find_filters(store):
    store.save(make_record("/x/full.jpg", people=[(True, True, True)]))
    store.save(make_record("/x/hat.jpg", site="TX-EAGLE", people=[(True, False, False)]))
    store.save(make_record("/x/none.jpg", device_type="electrical_rotor"))
    store.save(make_record("/x/bare.jpg", people=[(False, False, True)]))

    def names(**filters):
        return sorted(r["filename"] for r in store.find(filters)[1])

    assert names() == ["bare.jpg", "full.jpg", "hat.jpg", "none.jpg"]
    assert names(device_type="electrical_rotor") == ["none.jpg"]
    assert names(site_id="TX-EAGLE") == ["hat.jpg"]
    assert names(has_hard_hat=True) == ["full.jpg", "hat.jpg"]
    assert names(has_hard_hat=False) == ["bare.jpg"]  # nobody-in-view is neither
    assert names(has_inspection_equipment=True) == ["bare.jpg", "full.jpg"]
    assert names(min_compliance=40) == ["full.jpg", "hat.jpg"]
    assert names(max_compliance=35) == ["bare.jpg"]
    assert names(has_people=False) == ["none.jpg"]
    assert names(reviewed=True) == []
    total, rows = store.find({}, limit=2, offset=2)
    assert total == 4 and len(rows) == 2
    assert "embedding" not in rows[0]  # lists stay light


def test_embeddings_and_summary(store):
    a = store.save(make_record("/x/a.jpg", people=[(True, True, True)], vec=(1, 0)))
    store.save(make_record("/x/b.jpg", people=[(True, False, False)], vec=(0, 1)))
    store.save(make_record("/x/c.jpg", vec=(1, 1), model="other"))
    vectors = dict(store.embeddings("m1"))
    assert vectors[a["id"]] == [1.0, 0.0] and len(vectors) == 2
    store.save(make_record("/x/d.jpg", people=[(None, True, True)]))  # the analyser was not sure of the hat
    store.save(make_record("/x/e.jpg", people=[(False, False, False)]))
    summary = store.summary()
    row = next(r for r in summary if r["site_id"] == "WY-ALPHA" and r["device_type"] == "turbine")
    assert row["images"] == 5 and row["images_with_people"] == 4
    # (100 + 40 + 100 + 0) / 4: d is scored on what was decided (vest and equipment); the empty image has no score.
    assert row["average_compliance"] == 60.0
    assert (row["with_hard_hat"], row["without_hard_hat"], row["uncertain"]) == (2, 1, 1)


def test_word_frequencies_name_each_thing_once(store):
    from imaging.selectors import images_word_frequencies

    store.save(
        {
            **make_record("/x/w.jpg", people=[(True, False, True)]),
            "keywords": ["worker", "hard hat", "no hard hat", "tablet"],
            "description": "2 workers in view; 1 wearing a hard hat; 1 without a safety vest; 1 not sure about tablet.",
        }
    )
    words = images_word_frequencies(store=store)
    assert set(words) == {"worker", "hard hat", "tablet"}  # no "hard", "hat", "no hard hat", "safety vest", "sure"
    assert words["hard hat"] == 2 + 2  # the tag (2) plus "hard" and "hat" from the prose folded in


def test_uncertain_filter_finds_what_a_person_should_review(store):
    store.save(make_record("/x/sure.jpg", people=[(True, False, False)]))
    store.save(make_record("/x/unsure.jpg", people=[(None, False, False)]))  # the hat was not judged
    store.save(make_record("/x/nobody.jpg"))
    names = lambda **f: sorted(r["filename"] for r in store.find(f)[1])  # noqa: E731
    assert names(uncertain=True) == ["unsure.jpg"]
    assert names(uncertain=False) == ["nobody.jpg", "sure.jpg"]
    assert store.get(store.get_by_path("/x/unsure.jpg")["id"])["safety_compliance"]["has_hard_hat"] is None
