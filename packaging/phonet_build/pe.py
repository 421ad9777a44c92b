"""Just enough of the PE format: the DLLs a Windows binary imports, the names a DLL
exports, and a data-only DLL whose exports forward to another DLL.

Used to audit the frozen onedir (every DLL a binary needs is bundled or part of
Windows) and to give wine 8 the ``bcryptprimitives.dll`` it lacks (wineshim.py).
Layout: Microsoft's "PE Format" specification (learn.microsoft.com, "PE Format"):
the DOS header's ``e_lfanew``, the COFF header, the optional header's data
directories (0 exports, 1 imports, 13 delay-load imports) and the section table.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from pathlib import Path

IMAGE_DIRECTORY_ENTRY_EXPORT = 0
IMAGE_DIRECTORY_ENTRY_IMPORT = 1
IMAGE_DIRECTORY_ENTRY_DELAY_IMPORT = 13
PE32 = 0x10B
PE32_PLUS = 0x20B
MACHINE_AMD64 = 0x8664


class NotPE(ValueError):
    """The bytes are not a PE image this module can read."""


@dataclass(frozen=True)
class _Section:
    rva: int
    virtual_size: int
    raw_offset: int
    raw_size: int


class PEFile:
    """A parsed PE image: its sections and data directories."""

    def __init__(self, data: bytes, name: str = "image") -> None:
        self.data = data
        self.name = name
        if data[:2] != b"MZ" or len(data) < 0x40:
            raise NotPE(f"{name}: no MZ header")
        pe = struct.unpack_from("<I", data, 0x3C)[0]
        if data[pe : pe + 4] != b"PE\0\0":
            raise NotPE(f"{name}: no PE signature")
        self.machine, sections, _, _, _, optional_size, _ = struct.unpack_from(
            "<HHIIIHH", data, pe + 4
        )
        optional = pe + 24
        magic = struct.unpack_from("<H", data, optional)[0]
        if magic not in (PE32, PE32_PLUS):
            raise NotPE(f"{name}: unknown optional header magic {magic:#x}")
        if magic == PE32_PLUS:
            self.image_base = struct.unpack_from("<Q", data, optional + 24)[0]
        else:
            self.image_base = struct.unpack_from("<I", data, optional + 28)[0]
        dirs_at = optional + (112 if magic == PE32_PLUS else 96)
        count = struct.unpack_from("<I", data, dirs_at - 4)[0]
        self.directories = [
            struct.unpack_from("<II", data, dirs_at + 8 * i) for i in range(min(count, 16))
        ]
        table = optional + optional_size
        self.sections = []
        for i in range(sections):
            vsize, rva, raw_size, raw_offset = struct.unpack_from("<IIII", data, table + 40 * i + 8)
            self.sections.append(_Section(rva, vsize, raw_offset, raw_size))

    @classmethod
    def read(cls, path: Path) -> PEFile:
        return cls(path.read_bytes(), path.name)

    def offset(self, rva: int) -> int:
        for s in self.sections:
            if s.rva <= rva < s.rva + max(s.virtual_size, s.raw_size):
                return s.raw_offset + rva - s.rva
        raise NotPE(f"{self.name}: RVA {rva:#x} lies in no section")

    def string(self, rva: int) -> str:
        start = self.offset(rva)
        end = self.data.index(b"\0", start)
        return self.data[start:end].decode("ascii", "replace")

    def directory(self, index: int) -> tuple[int, int]:
        return self.directories[index] if index < len(self.directories) else (0, 0)

    def imported_dlls(self) -> list[str]:
        """The DLL names of the import and delay-load import tables, as written."""
        names = []
        rva, size = self.directory(IMAGE_DIRECTORY_ENTRY_IMPORT)
        if rva and size:
            at = self.offset(rva)
            while True:
                descriptor = struct.unpack_from("<IIIII", self.data, at)
                if not any(descriptor):
                    break
                names.append(self.string(descriptor[3]))
                at += 20
        rva, size = self.directory(IMAGE_DIRECTORY_ENTRY_DELAY_IMPORT)
        if rva and size:
            at = self.offset(rva)
            while True:
                attributes, name_rva = struct.unpack_from("<II", self.data, at)
                if not name_rva:
                    break
                # Version 1 delay-load descriptors hold RVAs; the old ones hold VAs.
                rva_of_name = name_rva if attributes & 1 else name_rva - self.image_base
                names.append(self.string(rva_of_name))
                at += 32
        return names

    def exports(self) -> dict[str, str | None]:
        """Each exported name and its forwarder ("dll.Function"), or None for code."""
        rva, size = self.directory(IMAGE_DIRECTORY_ENTRY_EXPORT)
        if not (rva and size):
            return {}
        at = self.offset(rva)
        (n_functions, n_names, functions, names, ordinals) = struct.unpack_from(
            "<IIIII", self.data, at + 20
        )
        result: dict[str, str | None] = {}
        for i in range(n_names):
            name_rva = struct.unpack_from("<I", self.data, self.offset(names) + 4 * i)[0]
            index = struct.unpack_from("<H", self.data, self.offset(ordinals) + 2 * i)[0]
            if index >= n_functions:
                raise NotPE(f"{self.name}: export ordinal {index} out of range")
            target = struct.unpack_from("<I", self.data, self.offset(functions) + 4 * index)[0]
            forwarded = rva <= target < rva + size  # a forwarder points into the directory
            result[self.string(name_rva)] = self.string(target) if forwarded else None
        return result


def forwarder_dll(dll_name: str, forwards: dict[str, str]) -> bytes:
    """A 64-bit DLL with no code: each export of ``forwards`` forwards to "dll.Function".

    One read-only section holds the export directory; no entry point, no relocations
    needed (nothing holds an absolute address), so any base address works.
    """
    file_align, section_align, section_rva = 0x200, 0x1000, 0x1000
    names = sorted(forwards)  # the loader binary-searches the name table
    n = len(names)
    directory_size = 40
    functions_at = section_rva + directory_size
    names_at = functions_at + 4 * n
    ordinals_at = names_at + 4 * n
    strings_at = ordinals_at + 2 * n
    strings = bytearray()

    def add(text: str) -> int:
        rva = strings_at + len(strings)
        strings.extend(text.encode("ascii") + b"\0")
        return rva

    dll_name_rva = add(dll_name)
    name_rvas = [add(name) for name in names]
    target_rvas = [add(forwards[name]) for name in names]
    export = struct.pack(
        "<IIHHIIIIIII",
        0, 0, 0, 0,  # characteristics, time stamp, version
        dll_name_rva, 1, n, n,  # name, ordinal base, functions, names
        functions_at, names_at, ordinals_at,
    )  # fmt: skip
    export += struct.pack(f"<{n}I", *target_rvas)
    export += struct.pack(f"<{n}I", *name_rvas)
    export += struct.pack(f"<{n}H", *range(n))
    export += bytes(strings)
    raw_size = -(-len(export) // file_align) * file_align
    image_size = section_rva + -(-len(export) // section_align) * section_align

    dos = bytearray(0x40)
    dos[0:2] = b"MZ"
    struct.pack_into("<I", dos, 0x3C, 0x40)
    coff = struct.pack(
        "<4sHHIIIHH",
        b"PE\0\0", MACHINE_AMD64, 1, 0, 0, 0, 240,
        0x2022,  # EXECUTABLE_IMAGE | LARGE_ADDRESS_AWARE | DLL
    )  # fmt: skip
    optional = struct.pack(
        "<HBBIIIII" "QIIHHHHHHIIIIHH" "QQQQII",
        PE32_PLUS, 14, 0, 0, raw_size, 0, 0, section_rva,
        0x180000000, section_align, file_align, 6, 0, 0, 0, 6, 0, 0,
        image_size, file_align, 0,
        3,  # subsystem: console (a DLL's is not used)
        0x0160,  # HIGH_ENTROPY_VA | DYNAMIC_BASE | NX_COMPAT
        0x100000, 0x1000, 0x100000, 0x1000, 0, 16,
    )  # fmt: skip
    directories = bytearray(16 * 8)
    struct.pack_into("<II", directories, 0, section_rva, len(export))
    section = struct.pack(
        "<8sIIIIIIHHI",
        b".rdata", len(export), section_rva, raw_size, file_align, 0, 0, 0, 0,
        0x40000040,  # INITIALIZED_DATA | MEM_READ
    )  # fmt: skip
    headers = bytes(dos) + coff + optional + bytes(directories) + section
    headers += bytes(file_align - len(headers))
    return headers + export + bytes(raw_size - len(export))
