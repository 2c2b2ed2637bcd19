namespace Emu.Conformance.Tests;

/// <summary>
/// The address space both sides use: the same numbers as native/layout.h (keep them in step).
/// All linear addresses are below 256 KiB, so a small guest RAM covers them.
/// </summary>
public static class Layout
{
    public const uint Code32Base = 0x0000_8000;
    public const uint Code32Entry = 0x0000_9000;
    public const uint Code32ExitFall = 0x0000_A000;
    public const uint Code32ExitTaken = 0x0000_A010;

    public const uint DataBase = 0x0002_0000;
    public const int DataSize = 0x1_0000;

    public const uint Code16Base = 0x0003_0000;
    public const uint Code16Entry = 0x1000;
    public const uint Code16ExitFall = 0x2000;
    public const uint Code16ExitTaken = 0x2010;

    public const int CodeWindow = 64;

    public const ushort SelData32 = (0 << 3) | 4 | 3;
    public const ushort SelData16 = (1 << 3) | 4 | 3;
    public const ushort SelCode16 = (2 << 3) | 4 | 3;
    /// <summary>The flat 32-bit code segment the 64-bit helper runs 32-bit cases in (it reports it as the host's CS).</summary>
    public const ushort SelCode32 = (3 << 3) | 4 | 3;

    public const byte ModeCode16 = 1;
    public const byte ModeStack16 = 2;

    /// <summary>The emulator's RAM: everything above fits below it.</summary>
    public const uint RamSize = 0x0010_0000;

    public static uint Entry(bool code16) => code16 ? Code16Entry : Code32Entry;
    public static uint ExitFall(bool code16) => code16 ? Code16ExitFall : Code32ExitFall;
    public static uint ExitTaken(bool code16) => code16 ? Code16ExitTaken : Code32ExitTaken;
    public static uint CodeBase(bool code16) => code16 ? Code16Base : 0;
}
