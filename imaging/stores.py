"""Where image records live: PostgreSQL (default) or MongoDB, behind one small interface.

A record is a plain dict in the seed's document shape plus bookkeeping
(``id`` is a string in both stores). Filters use the flat names of the API:
``device_type, site_id, has_hard_hat, has_safety_vest, has_inspection_equipment,
min_compliance, reviewed, has_people, uncertain`` (people in view and a flag left unknown).
"""

from __future__ import annotations

import functools
import logging
from typing import Protocol

from django.conf import settings
from django.db.models import Avg, Count, Q

logger = logging.getLogger(__name__)

FLAG_FIELDS = ("has_hard_hat", "has_safety_vest", "has_inspection_equipment")
RECORD_FIELDS = (
    "path",
    "filename",
    "category",
    "device_type",
    "site_id",
    "auto_site_id",
    "content_hash",
    "file_size",
    "file_mtime",
    "width",
    "height",
    "description",
    "keywords",
    "persons",
    "people",
    "quality",
    "analysis",
    "review",
    "reviewed",
    "reviewed_by",
    "reviewed_at",
    "embedding",
    "embedding_model",
    "provider",
    "processed_at",
)


class ImageStore(Protocol):
    name: str

    def get(self, image_id: str) -> dict | None: ...

    def get_by_path(self, path: str) -> dict | None: ...

    def save(self, record: dict) -> dict: ...

    def find(self, filters: dict, *, limit: int = 100, offset: int = 0) -> tuple[int, list[dict]]: ...

    def embeddings(self, model: str) -> list[tuple[str, list[float]]]: ...

    def summary(self) -> list[dict]: ...

    def paths(self) -> set[str]: ...


# People in view and a flag the analyser was not sure of: the images a person should review first.
_UNSURE = Q(persons__gt=0) & (Q(has_hard_hat=None) | Q(has_safety_vest=None) | Q(has_inspection_equipment=None))


class PostgresImageStore:
    """The Django model ``ImageRecord``: flags and score as columns, the rest JSONB."""

    name = "postgres"

    def _model(self):
        from imaging.models import ImageRecord

        return ImageRecord

    @staticmethod
    def _to_dict(obj) -> dict:
        record = {field: getattr(obj, field) for field in RECORD_FIELDS}
        record["id"] = str(obj.pk)
        record["safety_compliance"] = {
            **{f: getattr(obj, f) for f in FLAG_FIELDS},
            "compliance_score": obj.compliance_score,
        }
        return record

    def get(self, image_id: str) -> dict | None:
        try:
            pk = int(image_id)
        except (TypeError, ValueError):
            return None
        obj = self._model().objects.filter(pk=pk).first()
        return self._to_dict(obj) if obj else None

    def get_by_path(self, path: str) -> dict | None:
        obj = self._model().objects.filter(path=path).first()
        return self._to_dict(obj) if obj else None

    def save(self, record: dict) -> dict:
        values = {f: record[f] for f in RECORD_FIELDS if f in record and f != "path"}
        compliance = record.get("safety_compliance") or {}
        for flag in FLAG_FIELDS:
            values[flag] = compliance.get(flag)
        values["compliance_score"] = compliance.get("compliance_score")
        model = self._model()
        obj = model(path=record["path"], **values)
        # One INSERT ... ON CONFLICT (path) DO UPDATE instead of update_or_create's lock, select and write.
        model.objects.bulk_create([obj], update_conflicts=True, unique_fields=["path"], update_fields=list(values))
        if obj.pk is None or set(values) < set(RECORD_FIELDS) - {"path"}:
            obj = model.objects.get(path=record["path"])  # a partial record: read back what the row now holds
        return self._to_dict(obj)

    def find(self, filters: dict, *, limit: int = 100, offset: int = 0) -> tuple[int, list[dict]]:
        qs = self._model().objects.defer("embedding", "analysis")
        for key in ("device_type", "site_id", "reviewed", *FLAG_FIELDS):
            if filters.get(key) is not None:
                qs = qs.filter(**{key: filters[key]})
        if filters.get("min_compliance") is not None:
            qs = qs.filter(compliance_score__gte=filters["min_compliance"])
        if filters.get("max_compliance") is not None:
            qs = qs.filter(compliance_score__lte=filters["max_compliance"])
        if filters.get("has_people") is not None:
            qs = qs.filter(persons__gt=0) if filters["has_people"] else qs.filter(persons=0)
        if filters.get("uncertain") is not None:
            qs = qs.filter(_UNSURE) if filters["uncertain"] else qs.exclude(_UNSURE)
        if filters.get("site_ids"):
            qs = qs.filter(site_id__in=filters["site_ids"])
        if filters.get("ids"):
            qs = qs.filter(pk__in=[int(i) for i in filters["ids"] if str(i).isdigit()])
        qs = qs.order_by("device_type", "site_id", "filename", "pk")
        total = qs.count()
        rows = []
        for obj in qs[offset : offset + limit]:
            rows.append(
                {
                    **{f: getattr(obj, f) for f in RECORD_FIELDS if f not in ("embedding", "analysis")},
                    "id": str(obj.pk),
                    "safety_compliance": {**{f: getattr(obj, f) for f in FLAG_FIELDS}, "compliance_score": obj.compliance_score},
                }
            )
        return total, rows

    def embeddings(self, model: str) -> list[tuple[str, list[float]]]:
        rows = self._model().objects.filter(embedding_model=model).values_list("pk", "embedding")
        return [(str(pk), vec) for pk, vec in rows if vec]

    def summary(self) -> list[dict]:
        rows = (
            self._model()
            .objects.values("site_id", "device_type")
            .annotate(
                images=Count("id"),
                images_with_people=Count("id", filter=Q(persons__gt=0)),
                average_compliance=Avg("compliance_score"),
                with_hard_hat=Count("id", filter=Q(has_hard_hat=True)),
                without_hard_hat=Count("id", filter=Q(has_hard_hat=False)),
                uncertain=Count("id", filter=_UNSURE),
            )
            .order_by("site_id", "device_type")
        )
        out = []
        for row in rows:
            avg = row["average_compliance"]
            out.append({**row, "average_compliance": round(avg, 1) if avg is not None else None})
        return out

    def paths(self) -> set[str]:
        return set(self._model().objects.values_list("path", flat=True))


# ``_UNSURE`` as an aggregation expression (a missing flag counts as unknown, as a null one does).
_MONGO_UNSURE = {
    "$and": [
        {"$gt": ["$persons", 0]},
        {"$or": [{"$eq": [{"$ifNull": [f"$safety_compliance.{flag}", None]}, None]} for flag in FLAG_FIELDS]},
    ]
}


class MongoImageStore:
    """``tier0_images.images`` through pymongo; the same dict shape, ``_id`` as the id."""

    name = "mongodb"

    def __init__(self, uri: str, *, database: str = "tier0_images", collection: str = "images", timeout_ms: int = 3000) -> None:
        import pymongo

        self.client = pymongo.MongoClient(uri, serverSelectionTimeoutMS=timeout_ms, connectTimeoutMS=timeout_ms, tz_aware=True)
        self.collection = self.client[database][collection]
        self.collection.create_index("path", unique=True)
        self.collection.create_index([("site_id", 1), ("device_type", 1)])

    @staticmethod
    def _to_dict(doc: dict | None) -> dict | None:
        if doc is None:
            return None
        doc = dict(doc)
        doc["id"] = str(doc.pop("_id"))
        return doc

    def _oid(self, image_id: str):
        from bson import ObjectId
        from bson.errors import InvalidId

        try:
            return ObjectId(str(image_id))
        except (InvalidId, TypeError):
            return None

    def get(self, image_id: str) -> dict | None:
        oid = self._oid(image_id)
        return self._to_dict(self.collection.find_one({"_id": oid})) if oid else None

    def get_by_path(self, path: str) -> dict | None:
        return self._to_dict(self.collection.find_one({"path": path}))

    def save(self, record: dict) -> dict:
        from pymongo import ReturnDocument

        doc = {f: record[f] for f in RECORD_FIELDS if f in record}
        doc["safety_compliance"] = record.get("safety_compliance") or {}
        doc["processed"] = True
        saved = self.collection.find_one_and_update(
            {"path": record["path"]}, {"$set": doc}, upsert=True, return_document=ReturnDocument.AFTER
        )
        return self._to_dict(saved)

    def _query(self, filters: dict) -> dict:
        query: dict = {}
        for key in ("device_type", "site_id", "reviewed"):
            if filters.get(key) is not None:
                query[key] = filters[key]
        for flag in FLAG_FIELDS:
            if filters.get(flag) is not None:
                query[f"safety_compliance.{flag}"] = filters[flag]
        if filters.get("min_compliance") is not None:
            query.setdefault("safety_compliance.compliance_score", {})["$gte"] = filters["min_compliance"]
        if filters.get("max_compliance") is not None:
            query.setdefault("safety_compliance.compliance_score", {})["$lte"] = filters["max_compliance"]
        if filters.get("has_people") is not None:
            query["persons"] = {"$gt": 0} if filters["has_people"] else 0
        if filters.get("uncertain") is not None:
            unsure = [{f"safety_compliance.{flag}": None} for flag in FLAG_FIELDS]
            if filters["uncertain"]:
                query["persons"] = {"$gt": 0}
                query["$or"] = unsure
            else:
                query["$nor"] = [{"persons": {"$gt": 0}, "$or": unsure}]
        if filters.get("site_ids"):
            query["site_id"] = {"$in": list(filters["site_ids"])}
        if filters.get("ids"):
            query["_id"] = {"$in": [o for o in (self._oid(i) for i in filters["ids"]) if o]}
        return query

    def find(self, filters: dict, *, limit: int = 100, offset: int = 0) -> tuple[int, list[dict]]:
        query = self._query(filters)
        total = self.collection.count_documents(query)
        cursor = (
            self.collection.find(query, {"embedding": 0, "analysis": 0})
            .sort([("device_type", 1), ("site_id", 1), ("filename", 1), ("_id", 1)])
            .skip(offset)
            .limit(limit)
        )
        return total, [self._to_dict(d) for d in cursor]

    def embeddings(self, model: str) -> list[tuple[str, list[float]]]:
        cursor = self.collection.find({"embedding_model": model}, {"embedding": 1})
        return [(str(d["_id"]), d["embedding"]) for d in cursor if d.get("embedding")]

    def summary(self) -> list[dict]:
        pipeline = [
            {
                "$group": {
                    "_id": {"site_id": "$site_id", "device_type": "$device_type"},
                    "images": {"$sum": 1},
                    "images_with_people": {"$sum": {"$cond": [{"$gt": ["$persons", 0]}, 1, 0]}},
                    "average_compliance": {"$avg": "$safety_compliance.compliance_score"},
                    "with_hard_hat": {"$sum": {"$cond": [{"$eq": ["$safety_compliance.has_hard_hat", True]}, 1, 0]}},
                    "without_hard_hat": {"$sum": {"$cond": [{"$eq": ["$safety_compliance.has_hard_hat", False]}, 1, 0]}},
                    "uncertain": {"$sum": {"$cond": [_MONGO_UNSURE, 1, 0]}},
                }
            },
            {"$sort": {"_id.site_id": 1, "_id.device_type": 1}},
        ]
        out = []
        for row in self.collection.aggregate(pipeline):
            avg = row["average_compliance"]
            out.append(
                {
                    **row["_id"],
                    "images": row["images"],
                    "images_with_people": row["images_with_people"],
                    "average_compliance": round(avg, 1) if avg is not None else None,
                    "with_hard_hat": row["with_hard_hat"],
                    "without_hard_hat": row["without_hard_hat"],
                    "uncertain": row["uncertain"],
                }
            )
        return out

    def paths(self) -> set[str]:
        return {d["path"] for d in self.collection.find({}, {"path": 1})}


def store_default() -> ImageStore:
    """MongoDB when ``IMAGES_STORE=mongodb`` (or auto and MONGODB_URI is set), else PostgreSQL."""
    choice = settings.IMAGES_STORE
    if choice == "mongodb" or (choice == "auto" and settings.MONGODB_URI):
        return _mongo_store(settings.MONGODB_URI, settings.IMAGES_MONGO_DB)
    return PostgresImageStore()


@functools.lru_cache(maxsize=4)
def _mongo_store(uri: str, database: str) -> MongoImageStore:
    # One client per process: MongoClient pools its own connections and is thread-safe.
    return MongoImageStore(uri, database=database)
