from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class PackageInfo(_message.Message):
    __slots__ = ("name", "version", "description", "embodiments", "dependencies", "checksum", "skills", "compact_cards", "cards_json", "published_at", "size")
    NAME_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    EMBODIMENTS_FIELD_NUMBER: _ClassVar[int]
    DEPENDENCIES_FIELD_NUMBER: _ClassVar[int]
    CHECKSUM_FIELD_NUMBER: _ClassVar[int]
    SKILLS_FIELD_NUMBER: _ClassVar[int]
    COMPACT_CARDS_FIELD_NUMBER: _ClassVar[int]
    CARDS_JSON_FIELD_NUMBER: _ClassVar[int]
    PUBLISHED_AT_FIELD_NUMBER: _ClassVar[int]
    SIZE_FIELD_NUMBER: _ClassVar[int]
    name: str
    version: str
    description: str
    embodiments: _containers.RepeatedScalarFieldContainer[str]
    dependencies: _containers.RepeatedScalarFieldContainer[str]
    checksum: str
    skills: _containers.RepeatedScalarFieldContainer[str]
    compact_cards: _containers.RepeatedScalarFieldContainer[str]
    cards_json: str
    published_at: float
    size: int
    def __init__(self, name: _Optional[str] = ..., version: _Optional[str] = ..., description: _Optional[str] = ..., embodiments: _Optional[_Iterable[str]] = ..., dependencies: _Optional[_Iterable[str]] = ..., checksum: _Optional[str] = ..., skills: _Optional[_Iterable[str]] = ..., compact_cards: _Optional[_Iterable[str]] = ..., cards_json: _Optional[str] = ..., published_at: _Optional[float] = ..., size: _Optional[int] = ...) -> None: ...

class PublishRequest(_message.Message):
    __slots__ = ("archive", "overwrite")
    ARCHIVE_FIELD_NUMBER: _ClassVar[int]
    OVERWRITE_FIELD_NUMBER: _ClassVar[int]
    archive: bytes
    overwrite: bool
    def __init__(self, archive: _Optional[bytes] = ..., overwrite: _Optional[bool] = ...) -> None: ...

class ListRequest(_message.Message):
    __slots__ = ("all_versions",)
    ALL_VERSIONS_FIELD_NUMBER: _ClassVar[int]
    all_versions: bool
    def __init__(self, all_versions: _Optional[bool] = ...) -> None: ...

class ListReply(_message.Message):
    __slots__ = ("packages",)
    PACKAGES_FIELD_NUMBER: _ClassVar[int]
    packages: _containers.RepeatedCompositeFieldContainer[PackageInfo]
    def __init__(self, packages: _Optional[_Iterable[_Union[PackageInfo, _Mapping]]] = ...) -> None: ...

class SearchRequest(_message.Message):
    __slots__ = ("query", "k", "embodiments")
    QUERY_FIELD_NUMBER: _ClassVar[int]
    K_FIELD_NUMBER: _ClassVar[int]
    EMBODIMENTS_FIELD_NUMBER: _ClassVar[int]
    query: str
    k: int
    embodiments: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, query: _Optional[str] = ..., k: _Optional[int] = ..., embodiments: _Optional[_Iterable[str]] = ...) -> None: ...

class SearchHit(_message.Message):
    __slots__ = ("package", "version", "skill", "compact_card", "score")
    PACKAGE_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    SKILL_FIELD_NUMBER: _ClassVar[int]
    COMPACT_CARD_FIELD_NUMBER: _ClassVar[int]
    SCORE_FIELD_NUMBER: _ClassVar[int]
    package: str
    version: str
    skill: str
    compact_card: str
    score: float
    def __init__(self, package: _Optional[str] = ..., version: _Optional[str] = ..., skill: _Optional[str] = ..., compact_card: _Optional[str] = ..., score: _Optional[float] = ...) -> None: ...

class SearchReply(_message.Message):
    __slots__ = ("hits",)
    HITS_FIELD_NUMBER: _ClassVar[int]
    hits: _containers.RepeatedCompositeFieldContainer[SearchHit]
    def __init__(self, hits: _Optional[_Iterable[_Union[SearchHit, _Mapping]]] = ...) -> None: ...

class GetRequest(_message.Message):
    __slots__ = ("name", "version", "with_archive")
    NAME_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    WITH_ARCHIVE_FIELD_NUMBER: _ClassVar[int]
    name: str
    version: str
    with_archive: bool
    def __init__(self, name: _Optional[str] = ..., version: _Optional[str] = ..., with_archive: _Optional[bool] = ...) -> None: ...

class GetReply(_message.Message):
    __slots__ = ("package", "archive")
    PACKAGE_FIELD_NUMBER: _ClassVar[int]
    ARCHIVE_FIELD_NUMBER: _ClassVar[int]
    package: PackageInfo
    archive: bytes
    def __init__(self, package: _Optional[_Union[PackageInfo, _Mapping]] = ..., archive: _Optional[bytes] = ...) -> None: ...
