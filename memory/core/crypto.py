"""Encryption at rest for raw message content and session state: AES-256-GCM with a key id
per row, so keys can rotate while old rows stay readable until they are re-encrypted.

The associated data binds each ciphertext to its row (tenant, user and row id): a sealed
value copied into another user's row does not open. A row sealed with a key that is not
configured raises `KeyMissing`, which names the key; nothing falls back to plaintext."""

import base64
import json
import os
from collections.abc import Mapping
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from memory.core.errors import ConfigurationError, CorruptState
from memory.core.settings import EncryptionSettings

NONCE_BYTES = 12
KEY_BYTES = 32


class KeyMissing(ConfigurationError):
    """A row was sealed with a key this process does not have."""

    code = "key_missing"

    def __init__(self, key_id: str) -> None:
        super().__init__(
            f"data is encrypted with key {key_id!r}, which MEMSTRATA_ENCRYPTION__KEYS does not "
            "hold; add it back (keys are only retired after `memstrata keys --rotate` finishes)"
        )
        self.key_id = key_id


def decode_key(key_id: str, value: str) -> bytes:
    """A key as given in the settings: 32 bytes, base64 (standard or URL-safe)."""
    standard = value.strip().replace("-", "+").replace("_", "/")
    try:
        raw = base64.b64decode(standard + "=" * (-len(standard) % 4), validate=True)
    except ValueError:
        raise ConfigurationError(f"encryption key {key_id!r} is not base64") from None
    if len(raw) != KEY_BYTES:
        raise ConfigurationError(f"encryption key {key_id!r} must be 32 bytes, got {len(raw)}")
    return raw


def aad(*parts: object) -> bytes:
    return "\x1f".join(str(p) for p in parts).encode()


class Cipher:
    """Seals with the active key, opens with any configured key. With no keys configured it
    is disabled: `active` is None and nothing is sealed."""

    def __init__(self, keys: Mapping[str, bytes], active: str | None) -> None:
        if active is not None and active not in keys:
            raise ConfigurationError(f"MEMSTRATA_ENCRYPTION__ACTIVE names unknown key {active!r}")
        self._keys = {key_id: AESGCM(key) for key_id, key in keys.items()}
        self.active = active

    @property
    def enabled(self) -> bool:
        return self.active is not None

    @property
    def key_ids(self) -> frozenset[str]:
        return frozenset(self._keys)

    def seal_bytes(self, plaintext: bytes, associated: bytes) -> tuple[str, bytes]:
        if self.active is None:
            raise ConfigurationError("encryption is not configured")
        nonce = os.urandom(NONCE_BYTES)
        return self.active, nonce + self._keys[self.active].encrypt(nonce, plaintext, associated)

    def open_bytes(self, key_id: str, sealed: bytes, associated: bytes) -> bytes:
        aead = self._keys.get(key_id)
        if aead is None:
            raise KeyMissing(key_id)
        try:
            return aead.decrypt(sealed[:NONCE_BYTES], sealed[NONCE_BYTES:], associated)
        except (InvalidTag, ValueError):
            raise CorruptState(f"sealed value does not open with key {key_id!r}") from None

    def seal(self, plaintext: str, associated: bytes) -> tuple[str, str]:
        """(key id, base64 text) for a text column."""
        key_id, sealed = self.seal_bytes(plaintext.encode(), associated)
        return key_id, base64.b64encode(sealed).decode()

    def open(self, key_id: str, sealed: str, associated: bytes) -> str:
        return self.open_bytes(key_id, base64.b64decode(sealed), associated).decode()

    def seal_text(self, plaintext: str, associated: bytes) -> tuple[str | None, str]:
        """(key id, stored text): sealed when encryption is on, else (None, plaintext)."""
        return self.seal(plaintext, associated) if self.enabled else (None, plaintext)

    def open_text(self, key_id: str | None, stored: str, associated: bytes) -> str:
        """The plaintext of a stored value; a value without key id was stored in the clear."""
        return stored if key_id is None else self.open(key_id, stored, associated)

    # A message's content and a session's context are sealed bound to the row they belong
    # to (tenant, user, id): a sealed value copied onto another row does not open.

    def seal_message(
        self, tenant_id: str, user_id: str, message_id: object, content: str
    ) -> tuple[str | None, str]:
        """(key id, stored content): sealed when encryption is on, else (None, content)."""
        return self.seal_text(content, _message_aad(tenant_id, user_id, message_id))

    def open_message(
        self, tenant_id: str, user_id: str, message_id: object, key_id: str | None, stored: str
    ) -> str:
        """A message's content as stored (sealed under `key_id`, or in the clear)."""
        return self.open_text(key_id, stored, _message_aad(tenant_id, user_id, message_id))

    def seal_context(self, tenant_id: str, user_id: str, session_id: object, plain: str) -> str:
        """The JSON a session's context is stored as: {"key_id", "sealed"} when encryption
        is on, else the context's own JSON."""
        if not self.enabled:
            return plain
        key_id, sealed = self.seal(plain, session_aad(tenant_id, user_id, session_id))
        return json.dumps({"key_id": key_id, "sealed": sealed})

    def open_context(
        self, tenant_id: str, user_id: str, session_id: object, stored: Mapping[str, Any]
    ) -> str:
        """A session's stored context as its JSON text, opened when it was sealed."""
        if "sealed" not in stored:
            return json.dumps(stored)
        associated = session_aad(tenant_id, user_id, session_id)
        return self.open(stored["key_id"], stored["sealed"], associated)


DISABLED = Cipher({}, None)


def build_cipher(settings: EncryptionSettings) -> Cipher:
    """The cipher of the settings: every configured key may open, `active` (default: the
    last key listed) seals. No keys: encryption is off."""
    keys = {
        key_id: decode_key(key_id, secret.get_secret_value())
        for key_id, secret in settings.keys.items()
    }
    if not keys:
        if settings.active is not None:
            raise ConfigurationError("MEMSTRATA_ENCRYPTION__ACTIVE is set but no keys are")
        return DISABLED
    return Cipher(keys, settings.active or list(keys)[-1])


def _message_aad(tenant_id: str, user_id: str, message_id: object) -> bytes:
    return aad("message", tenant_id, user_id, message_id)


def session_aad(tenant_id: str, user_id: str, session_id: object) -> bytes:
    return aad("session", tenant_id, user_id, session_id)
