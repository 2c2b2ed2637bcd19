namespace Emu.Memory;

/// <summary>
/// The processor's x87 error pins for MS-DOS compatibility mode (CR0.NE=0; Intel SDM Vol. 1,
/// appendix D): the FERR# output and the IGNNE# input. On a PC the board latches FERR# onto
/// IRQ 13 of the cascaded interrupt controller, and a write to port F0h clears that latch
/// and asserts IGNNE# until FERR# goes away. The CPU drives <see cref="SetFerr"/> and
/// samples <see cref="IgnneAsserted"/>; the board implements both. Unwired (null on the
/// CPU), FERR# goes nowhere and IGNNE# reads deasserted.
/// </summary>
public interface IFpuErrorPins
{
    /// <summary>
    /// FERR#: asserted when an x87 instruction completes with an unmasked exception (P6:
    /// at the end of that instruction, Intel SDM Vol. 3, 22.18.6.7), deasserted when the
    /// error is cleared (FNCLEX, FNINIT, or a load of a status word without it).
    /// </summary>
    void SetFerr(bool asserted);

    /// <summary>
    /// IGNNE#: while asserted, a waiting x87 or MMX instruction runs despite a pending
    /// unmasked exception instead of freezing until an interrupt.
    /// </summary>
    bool IgnneAsserted { get; }
}
