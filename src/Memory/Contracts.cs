namespace Emu.Memory;

/// <summary>A device that answers physical-memory accesses in a range (memory-mapped I/O).</summary>
/// <remarks>Addresses passed in are physical addresses; size is 1, 2 or 4 bytes.</remarks>
public interface IMmioDevice
{
    uint Read(uint address, int size);
    void Write(uint address, int size, uint value);
}

/// <summary>A device in the I/O port space (IN/OUT/INS/OUTS).</summary>
/// <remarks>size is 1, 2 or 4 bytes. A device sees only the ports it registered.</remarks>
public interface IPortDevice
{
    uint In(ushort port, int size);
    void Out(ushort port, int size, uint value);
}

/// <summary>The A20 gate line, driven by port 0x92 and the keyboard controller.</summary>
public interface IA20Line
{
    bool A20Enabled { get; set; }
}
