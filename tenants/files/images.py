"""Images as uploaded: the type sniffed from the bytes (never the name or the client's Content-Type), location
metadata removed without re-encoding the picture, and a thumbnail of at most 320 px."""

from __future__ import annotations

import io
import struct
from dataclasses import dataclass

from PIL import Image, ImageOps

from tenants.errors import InvalidInput, Problem

THUMBNAIL_PX = 320
MAX_PIXELS = 50_000_000  # a decompression bomb is refused before it is decoded
GPS_IFD = 0x8825
HEIC_BRANDS = {b"heic", b"heix", b"hevc", b"hevx", b"heim", b"heis", b"mif1", b"msf1"}
JPEG, PNG, WEBP, HEIC = "image/jpeg", "image/png", "image/webp", "image/heic"
Image.MAX_IMAGE_PIXELS = MAX_PIXELS


def _heif_available() -> bool:
    try:
        import pillow_heif

        pillow_heif.register_heif_opener()
        return True
    except ImportError:
        return False


HEIF = _heif_available()


def sniff(data: bytes) -> str | None:
    """The image type the bytes are (JPEG, PNG, WebP, HEIC), or None."""
    if data.startswith(b"\xff\xd8\xff"):
        return JPEG
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return PNG
    if len(data) >= 12 and data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return WEBP
    if len(data) >= 12 and data[4:8] == b"ftyp" and data[8:12] in HEIC_BRANDS:
        return HEIC
    return None


def _refuse(reason: str, zh: str, en: str) -> InvalidInput:
    return InvalidInput.of([Problem("file", reason, zh, en)])


def _too_many_pixels() -> InvalidInput:
    return _refuse("pixels", f"图片不能超过 {MAX_PIXELS} 像素", f"an image may have at most {MAX_PIXELS} pixels")


@dataclass(frozen=True)
class Cleaned:
    data: bytes
    content_type: str
    width: int
    height: int
    thumbnail: bytes
    thumbnail_type: str


def _jpeg_segments(data: bytes) -> list[bytes]:
    """A JPEG's header segments up to the scan, each whole (marker and length included), then the rest as one."""
    out, i = [data[:2]], 2
    while i + 4 <= len(data):
        if data[i] != 0xFF:
            raise ValueError("not a JPEG segment")
        marker = data[i + 1]
        if marker == 0xDA:  # start of scan: the compressed picture follows
            break
        length = struct.unpack(">H", data[i + 2:i + 4])[0]
        out.append(data[i:i + 2 + length])
        i += 2 + length
    out.append(data[i:])
    return out


def _without_gps_exif(exif_payload: bytes) -> bytes:
    """An EXIF block (after ``Exif\\0\\0``) without its GPS directory, every other tag as it was."""
    exif = Image.Exif()
    exif.load(exif_payload)
    if GPS_IFD in exif:
        del exif[GPS_IFD]
    return exif.tobytes()


def _strip_jpeg(data: bytes) -> bytes:
    """Drops the GPS directory of the EXIF segment and the XMP segments (which may repeat the location); the
    compressed picture is copied byte for byte."""
    parts = _jpeg_segments(data)
    kept = [parts[0]]
    for seg in parts[1:-1]:
        if seg[1] == 0xE1 and seg[4:10] == b"Exif\x00\x00":
            payload = b"Exif\x00\x00" + _without_gps_exif(seg[10:])
            if len(payload) + 2 > 0xFFFF:
                continue
            kept.append(b"\xff\xe1" + struct.pack(">H", len(payload) + 2) + payload)
        elif seg[1] == 0xE1:  # XMP (and extended XMP): may carry exif:GPS* again
            continue
        else:
            kept.append(seg)
    kept.append(parts[-1])
    return b"".join(kept)


def _strip_png(data: bytes) -> bytes:
    """Drops the eXIf chunk and XMP text chunks; image data chunks are copied as they are."""
    out, i = [data[:8]], 8
    while i + 12 <= len(data):
        length = struct.unpack(">I", data[i:i + 4])[0]
        kind = data[i + 4:i + 8]
        chunk = data[i:i + 12 + length]
        if kind != b"eXIf" and not (kind in (b"iTXt", b"tEXt", b"zTXt") and b"XML:com.adobe.xmp" in chunk[8:40]):
            out.append(chunk)
        i += 12 + length
    return b"".join(out)


def _strip_webp(data: bytes) -> bytes:
    """Drops the EXIF and XMP chunks of the RIFF container and their flags in VP8X; the picture is untouched."""
    out, i = [], 12
    while i + 8 <= len(data):
        kind = data[i:i + 4]
        size = struct.unpack("<I", data[i + 4:i + 8])[0]
        chunk = data[i:i + 8 + size + (size & 1)]
        if kind == b"VP8X" and len(chunk) >= 9:
            chunk = chunk[:8] + bytes([chunk[8] & ~0x0C]) + chunk[9:]  # clear the EXIF (8) and XMP (4) flags
        if kind not in (b"EXIF", b"XMP "):
            out.append(chunk)
        i += 8 + size + (size & 1)
    body = b"WEBP" + b"".join(out)
    return b"RIFF" + struct.pack("<I", len(body)) + body


def _thumbnail(image: Image.Image) -> tuple[bytes, str]:
    thumb = ImageOps.exif_transpose(image.copy())
    thumb.thumbnail((THUMBNAIL_PX, THUMBNAIL_PX))
    buf = io.BytesIO()
    if thumb.mode in ("RGBA", "LA", "P") and (thumb.mode != "P" or "transparency" in thumb.info):
        thumb.save(buf, "PNG", optimize=True)
        return buf.getvalue(), PNG
    thumb.convert("RGB").save(buf, "JPEG", quality=80)
    return buf.getvalue(), JPEG


def clean(data: bytes, *, keep_location: bool) -> Cleaned:
    """The image to store: sniffed, decoded once (a file that only looks like an image is refused), with its
    location removed unless the tenant keeps it, and a thumbnail. HEIC, which browsers do not show, is stored as a
    JPEG (re-encoded, EXIF kept without GPS)."""
    kind = sniff(data)
    if kind is None or (kind == HEIC and not HEIF):
        raise _refuse("type", "只能上传 JPEG、PNG、WebP" + ("或 HEIC" if HEIF else "") + " 图片",
                      "only JPEG, PNG, WebP" + (" or HEIC" if HEIF else "") + " images can be uploaded")
    try:
        with Image.open(io.BytesIO(data)) as image:
            if image.width * image.height > MAX_PIXELS:
                raise _too_many_pixels()
            image.load()
            width, height = ImageOps.exif_transpose(image.copy()).size
            thumbnail, thumbnail_type = _thumbnail(image)
            if kind == HEIC:
                exif = image.getexif()
                if not keep_location and GPS_IFD in exif:
                    del exif[GPS_IFD]
                buf = io.BytesIO()
                image.convert("RGB").save(buf, "JPEG", quality=90, exif=exif.tobytes())
                return Cleaned(buf.getvalue(), JPEG, width, height, thumbnail, thumbnail_type)
    except InvalidInput:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise _too_many_pixels() from None
    except Exception:  # truncated or corrupt: Pillow raises many kinds
        raise _refuse("corrupt", "图片已损坏，无法读取", "the image is damaged and cannot be read") from None
    if not keep_location:
        try:
            data = {JPEG: _strip_jpeg, PNG: _strip_png, WEBP: _strip_webp}[kind](data)
        except (ValueError, struct.error, SyntaxError):
            raise _refuse("corrupt", "图片已损坏，无法读取", "the image is damaged and cannot be read") from None
    return Cleaned(data, kind, width, height, thumbnail, thumbnail_type)
