using System.Collections.Generic;
using Emu.Cpu.Tests.Support;
using Iced.Intel;
using static Emu.Cpu.Tests.Support.CaseRunner;
using static Iced.Intel.AssemblerRegisters;

namespace Emu.Cpu.Tests.RealMode;

/// <summary>
/// Table-driven checks of each instruction group in real mode: 16-bit code, 16-bit
/// addressing and a 16-bit stack, every segment at its own base. Every general register,
/// the arithmetic flags and DF are checked after each row (flags the SDM leaves undefined
/// for the instruction are skipped, as <see cref="Emu.X86.UndefinedFlags"/> lists them).
/// Registers start with DEADh in their upper halves, so 16-bit forms that disturb them show.
/// </summary>
public class InstructionGroupTests
{
    private static Case C(string name, System.Action<Assembler> emit, string input, string output) => new(name, emit, input, output);

    // ---- data movement ----

    public static readonly Dictionary<string, Case> DataMovement = Table(
        C("mov ax,bx", a => a.mov(ax, bx), "BX=1234", "AX=1234"),
        C("mov al,[bx+si+2]", a => a.mov(al, __byte_ptr[bx + si + 2]), "BX=0100 SI=0010 b[ds:0112]=5A", "AL=5A"),
        C("mov [bp+di-2],ax (SS default)", a => a.mov(__word_ptr[bp + di - 2], ax), "BP=0200 DI=0010 AX=BEEF", "w[ss:020E]=BEEF"),
        C("mov ax,[bp] (SS default)", a => a.mov(ax, __word_ptr[bp]), "BP=0300 w[ss:0300]=6666 w[ds:0300]=5555", "AX=6666"),
        C("mov ax,es:[bx]", a => a.mov(ax, __word_ptr.es[bx]), "BX=0300 w[es:0300]=1111 w[ds:0300]=2222", "AX=1111"),
        C("mov ax,cs:[bx]", a => a.mov(ax, __word_ptr.cs[bx]), "BX=0400 w[cs:0400]=3333 w[ds:0400]=2222", "AX=3333"),
        C("mov ax,ss:[bx]", a => a.mov(ax, __word_ptr.ss[bx]), "BX=0300 w[ss:0300]=4444 w[ds:0300]=2222", "AX=4444"),
        C("mov ax,ds:[bp]", a => a.mov(ax, __word_ptr.ds[bp]), "BP=0300 w[ds:0300]=5555 w[ss:0300]=6666", "AX=5555"),
        C("mov ax,fs:[bx]", a => a.mov(ax, __word_ptr.fs[bx]), "BX=0300 w[fs:0300]=7777 w[ds:0300]=2222", "AX=7777"),
        C("mov ax,gs:[bx]", a => a.mov(ax, __word_ptr.gs[bx]), "BX=0300 w[gs:0300]=8888 w[ds:0300]=2222", "AX=8888"),
        C("mov es:[di],al", a => a.mov(__byte_ptr.es[di], al), "DI=0010 AL=99", "b[es:0010]=99"),
        C("mov ax,[bx+si] wraps at 64K", a => a.mov(ax, __word_ptr[bx + si]), "BX=FFFF SI=0003 w[ds:0002]=7777", "AX=7777"),
        C("mov ax,[bx+10h] wraps at 64K", a => a.mov(ax, __word_ptr[bx + 0x10]), "BX=FFF8 w[ds:0008]=8888", "AX=8888"),
        C("mov ax,[bx-1] wraps below 0", a => a.mov(ax, __word_ptr[bx - 2]), "BX=0000 w[ds:FFFE]=1234", "AX=1234"),
        C("mov ax,[FFFEh]: last word of the segment", a => a.mov(ax, __word_ptr[0xFFFE]), "w[ds:FFFE]=9999", "AX=9999"),
        C("mov al,[FFFFh]: last byte of the segment", a => a.mov(al, __byte_ptr[0xFFFF]), "b[ds:FFFF]=5A", "AL=5A"),
        C("mov ax,[1234h] (moffs)", a => a.mov(ax, __word_ptr[0x1234]), "w[ds:1234]=ABCD", "AX=ABCD"),
        C("mov byte [bx],12h", a => a.mov(__byte_ptr[bx], 0x12), "BX=0010 b[ds:0010]=00", "b[ds:0010]=12"),
        C("mov eax,[bx] (66h)", a => a.mov(eax, __dword_ptr[bx]), "BX=0010 d[ds:0010]=12345678", "EAX=12345678"),
        C("mov ax,[ebx] (67h)", a => a.mov(ax, __word_ptr[ebx]), "EBX=00001000 w[ds:1000]=4321", "AX=4321"),
        C("mov ax,[ebx+ecx*2+4] (67h)", a => a.mov(ax, __word_ptr[ebx + ecx * 2 + 4]), "EBX=00000100 ECX=00000010 w[ds:0124]=2468", "AX=2468"),
        C("mov ax,[esp+2] (67h, SS default)", a => a.mov(ax, __word_ptr[esp + 2]), "ESP=00001000 w[ss:1002]=1357 w[ds:1002]=0000", "AX=1357"),
        C("movzx ax,bl", a => a.movzx(ax, bl), "BL=F0", "AX=00F0"),
        C("movsx ax,bl", a => a.movsx(ax, bl), "BL=F0", "AX=FFF0"),
        C("movsx eax,word [bx]", a => a.movsx(eax, __word_ptr[bx]), "BX=0010 w[ds:0010]=8000", "EAX=FFFF8000"),
        C("movzx eax,byte [bx]", a => a.movzx(eax, __byte_ptr[bx]), "BX=0010 b[ds:0010]=F0", "EAX=000000F0"),
        C("xchg ax,bx", a => a.xchg(ax, bx), "AX=1111 BX=2222", "AX=2222 BX=1111"),
        C("xchg [bx],cl", a => a.xchg(__byte_ptr[bx], cl), "BX=0010 CL=AA b[ds:0010]=55", "CL=55 b[ds:0010]=AA"),
        C("xchg ah,al", a => a.xchg(ah, al), "AX=1234", "AX=3412"),
        C("lea ax,[bx+si+10h] wraps", a => a.lea(ax, __[bx + si + 0x10]), "BX=FFF8 SI=0004", "AX=000C"),
        C("lea eax,[bx+si] (16-bit address, zero-extended)", a => a.lea(eax, __[bx + si]), "BX=FFFF SI=0001", "EAX=00000000"),
        C("lea ax,[ebx+ecx*4] (truncated)", a => a.lea(ax, __[ebx + ecx * 4]), "EBX=00012340 ECX=00000001", "AX=2344"),
        C("xlat", a => a.xlatb(), "BX=0100 AL=05 b[ds:0105]=77", "AL=77"),
        C("xlat: BX+AL wraps at 64K", a => a.xlatb(), "BX=FFFF AL=02 b[ds:0001]=66", "AL=66"),
        C("xlat: AL is unsigned", a => a.xlatb(), "BX=0100 AL=F0 b[ds:01F0]=31 b[ds:0090]=13", "AL=31"),
        C("es: xlat", a => { a.db(0x26); a.xlatb(); }, "BX=0100 AL=01 b[es:0101]=44 b[ds:0101]=33", "AL=44"),
        C("cbw", a => a.cbw(), "AX=0080", "AX=FF80"),
        C("cbw positive", a => a.cbw(), "AX=FF7F", "AX=007F"),
        C("cwd", a => a.cwd(), "AX=8000", "DX=FFFF"),
        C("cwd positive", a => a.cwd(), "AX=7FFF DX=1234", "DX=0000"),
        C("cwde", a => a.cwde(), "AX=8000", "EAX=FFFF8000"),
        C("cdq", a => a.cdq(), "EAX=80000000", "EDX=FFFFFFFF"),
        C("bswap eax", a => a.bswap(eax), "EAX=11223344", "EAX=44332211"),
        C("cmovz ax,bx taken", a => a.cmovz(ax, bx), "AX=0000 BX=1234 F=Z", "AX=1234"),
        C("cmovnz ax,bx not taken", a => a.cmovnz(ax, bx), "AX=0000 BX=1234 F=Z", "AX=0000"),
        C("cmovl ax,[bx] taken (SF!=OF)", a => a.cmovl(ax, __word_ptr[bx]), "BX=0010 w[ds:0010]=4321 F=S", "AX=4321"),
        C("cmpxchg bx,cx equal", a => a.cmpxchg(bx, cx), "AX=0005 BX=0005 CX=0009", "BX=0009 F=ZP"),
        C("cmpxchg bx,cx not equal", a => a.cmpxchg(bx, cx), "AX=0005 BX=0007 CX=0009", "AX=0007 F=SAC"),
        C("cmpxchg [bx],cl equal", a => a.cmpxchg(__byte_ptr[bx], cl), "AL=42 BX=0010 CL=24 b[ds:0010]=42", "b[ds:0010]=24 F=ZP"),
        C("xadd [bx],ax", a => a.xadd(__word_ptr[bx], ax), "BX=0010 AX=0001 w[ds:0010]=FFFF", "AX=FFFF w[ds:0010]=0000 F=ZAPC"),
        C("xadd ax,bx", a => a.xadd(ax, bx), "AX=7FFF BX=0001", "AX=8000 BX=7FFF F=OSAP"),
        C("mov ax,es", a => a.mov(ax, es), "", "AX=3000"),
        C("mov eax,ds (zero-extends)", a => a.mov(eax, ds), "", "EAX=00002000"),
        C("mov [bx],ss", a => a.mov(__word_ptr[bx], ss), "BX=0010", "w[ds:0010]=4000"),
        C("mov ds,ax", a => a.mov(ds, ax), "AX=1234", "DS=1234"),
        C("mov ds,[bx]", a => a.mov(ds, __word_ptr[bx]), "BX=0010 w[ds:0010]=0ABC", "DS=0ABC"),
        C("mov es,ax then read es:[0]", a => { a.mov(es, ax); a.mov(bl, __byte_ptr.es[0]); }, "AX=2600 b[ds:6000]=11", "ES=2600 BL=11"),
        C("lds si,[bx]", a => a.lds(si, __dword_ptr[bx]), "BX=0010 w[ds:0010]=1234 w[ds:0012]=5000", "SI=1234 DS=5000"),
        C("les di,[bx]", a => a.les(di, __dword_ptr[bx]), "BX=0010 w[ds:0010]=1234 w[ds:0012]=5000", "DI=1234 ES=5000"),
        C("lfs ax,[bx]", a => a.lfs(ax, __dword_ptr[bx]), "BX=0010 w[ds:0010]=1234 w[ds:0012]=0700", "AX=1234 FS=0700"),
        C("lgs ax,[bx]", a => a.lgs(ax, __dword_ptr[bx]), "BX=0010 w[ds:0010]=1234 w[ds:0012]=0700", "AX=1234 GS=0700"),
        C("lss sp,[bx]", a => a.lss(sp, __dword_ptr[bx]), "BX=0010 w[ds:0010]=0800 w[ds:0012]=7000", "SP=0800 SS=7000"),
        C("lds esi,[bx] (66h: m16:32)", a => a.lds(esi, __fword_ptr[bx]), "BX=0010 d[ds:0010]=87654321 w[ds:0014]=0500", "ESI=87654321 DS=0500"),
        C("lds si,[bx] at the end of the segment", a => a.lds(si, __dword_ptr[bx]), "BX=FFFC w[ds:FFFC]=1234 w[ds:FFFE]=0900", "SI=1234 DS=0900"),
        C("lahf", a => a.lahf(), "AX=0000 F=SZAPC", "AH=D7"),
        C("lahf with no flags", a => a.lahf(), "AX=FFFF F=O", "AH=02"),
        C("sahf", a => a.sahf(), "AH=C1", "F=SZC"),
        C("sahf keeps OF", a => a.sahf(), "AH=14 F=OC", "F=OAP"));

    public static TheoryData<string> DataMovementKeys => Keys(DataMovement);

    [Theory]
    [MemberDataOnEveryEngine(nameof(DataMovementKeys))]
    public void DataMovementInstructions(string key, string engine) => CaseRunner.Run(DataMovement[key], engine);

    // ---- binary arithmetic ----

    public static readonly Dictionary<string, Case> Arithmetic = Table(
        C("add ax,bx", a => a.add(ax, bx), "AX=7FFF BX=0001", "AX=8000 F=OSAP"),
        C("add al,bl", a => a.add(al, bl), "AX=12FF BL=01", "AX=1200 F=ZAPC"),
        C("add ax,imm16", a => a.add(ax, 0x1234), "AX=1111 F=OC", "AX=2345 F=-"),
        C("add ax,imm8 (sign-extended)", a => a.add(ax, -2), "AX=0001", "AX=FFFF F=SP"),
        C("add word [bx+si+2],1", a => a.add(__word_ptr[bx + si + 2], 1), "BX=0010 SI=0000 w[ds:0012]=FFFF", "w[ds:0012]=0000 F=ZAPC"),
        C("add eax,ebx (66h)", a => a.add(eax, ebx), "EAX=FFFFFFFF EBX=00000001", "EAX=00000000 F=ZAPC"),
        C("adc ax,bx with CF", a => a.adc(ax, bx), "AX=FFFF BX=0000 F=C", "AX=0000 F=ZAPC"),
        C("adc ax,bx into overflow", a => a.adc(ax, bx), "AX=7FFF BX=0000 F=C", "AX=8000 F=OSAP"),
        C("adc al,0 without CF", a => a.adc(al, 0), "AL=7F", "AL=7F F=-"),
        C("sub ax,bx", a => a.sub(ax, bx), "AX=0000 BX=0001", "AX=FFFF F=SAPC"),
        C("sub al,80h", a => a.sub(al, 0x80), "AL=00", "AL=80 F=OSC"),
        C("sub al,1 (overflow down)", a => a.sub(al, 1), "AL=80", "AL=7F F=OA"),
        C("sbb ax,bx with CF", a => a.sbb(ax, bx), "AX=0000 BX=FFFF F=C", "AX=0000 F=ZAPC"),
        C("sbb al,bl with CF", a => a.sbb(al, bl), "AL=05 BL=05 F=C", "AL=FF F=SAPC"),
        C("cmp ax,bx", a => a.cmp(ax, bx), "AX=8000 BX=0001", "F=OAP"),
        C("cmp byte [bp],5 (SS)", a => a.cmp(__byte_ptr[bp], 5), "BP=0100 b[ss:0100]=05 b[ds:0100]=06", "F=ZP"),
        C("inc ax keeps CF", a => a.inc(ax), "AX=7FFF F=C", "AX=8000 F=OSAPC"),
        C("inc al wraps and keeps AH", a => a.inc(al), "AX=55FF", "AX=5500 F=ZAP"),
        C("dec cx", a => a.dec(cx), "CX=0000", "CX=FFFF F=SAP"),
        C("dec word [di]", a => a.dec(__word_ptr[di]), "DI=0200 w[ds:0200]=8000 F=C", "w[ds:0200]=7FFF F=OAPC"),
        C("neg ax", a => a.neg(ax), "AX=0001", "AX=FFFF F=SAPC"),
        C("neg ax of 0", a => a.neg(ax), "AX=0000 F=C", "AX=0000 F=ZP"),
        C("neg ax of 8000h", a => a.neg(ax), "AX=8000", "AX=8000 F=OSPC"),
        C("mul bl", a => a.mul(bl), "AX=0080 BL=02", "AX=0100 F=OC"),
        C("mul bl fits", a => a.mul(bl), "AX=FF10 BL=03", "AX=0030 F=-"),
        C("mul bx", a => a.mul(bx), "AX=FFFF BX=FFFF", "AX=0001 DX=FFFE F=OC"),
        C("mul word [bx]", a => a.mul(__word_ptr[bx]), "AX=0002 BX=0010 w[ds:0010]=0003", "AX=0006 DX=0000 F=-"),
        C("mul ebx (66h)", a => a.mul(ebx), "EAX=80000000 EBX=00000004", "EAX=00000000 EDX=00000002 F=OC"),
        C("imul bl", a => a.imul(bl), "AL=FF BL=80", "AX=0080 F=OC"),
        C("imul bl fits", a => a.imul(bl), "AL=FF BL=FF", "AX=0001 F=-"),
        C("imul bx", a => a.imul(bx), "AX=FFFF BX=FFFF", "AX=0001 DX=0000 F=-"),
        C("imul bx overflows", a => a.imul(bx), "AX=8000 BX=FFFF", "AX=8000 DX=0000 F=OC"),
        C("imul ax,bx,16", a => a.imul(ax, bx, 16), "BX=0800", "AX=8000 F=OC"),
        C("imul cx,dx", a => a.imul(cx, dx), "CX=0003 DX=FFFE", "CX=FFFA F=-"),
        C("imul ax,[bx],-3", a => a.imul(ax, __word_ptr[bx], -3), "BX=0010 w[ds:0010]=0005", "AX=FFF1 F=-"),
        C("div bl", a => a.div(bl), "AX=0107 BL=10", "AX=0710"),
        C("div bx", a => a.div(bx), "DX=0001 AX=0000 BX=0002", "AX=8000 DX=0000"),
        C("div ecx (66h)", a => a.div(ecx), "EDX=00000000 EAX=00000100 ECX=00000007", "EAX=00000024 EDX=00000004"),
        C("idiv bl", a => a.idiv(bl), "AX=FFF9 BL=02", "AX=FFFD"),
        C("idiv bx", a => a.idiv(bx), "DX=FFFF AX=FFF9 BX=FFFE", "AX=0003 DX=FFFF"),
        C("idiv bl: -128 fits", a => a.idiv(bl), "AX=FF00 BL=02", "AX=0080"));

    public static TheoryData<string> ArithmeticKeys => Keys(Arithmetic);

    [Theory]
    [MemberDataOnEveryEngine(nameof(ArithmeticKeys))]
    public void ArithmeticInstructions(string key, string engine) => CaseRunner.Run(Arithmetic[key], engine);

    // ---- logic ----

    public static readonly Dictionary<string, Case> Logic = Table(
        C("and ax,bx", a => a.and(ax, bx), "AX=F0F0 BX=FF00 F=OC", "AX=F000 F=SP"),
        C("or al,1", a => a.or(al, 1), "AL=80", "AL=81 F=SP"),
        C("xor ax,ax", a => a.xor(ax, ax), "AX=FFFF F=SC", "AX=0000 F=ZP"),
        C("xor al,bl", a => a.xor(al, bl), "AL=55 BL=AA", "AL=FF F=SP"),
        C("test al,80h", a => a.test(al, 0x80), "AL=7F", "F=ZP"),
        C("test [bx],ax", a => a.test(__word_ptr[bx], ax), "AX=8001 BX=0010 w[ds:0010]=8000", "F=SP"),
        C("and word [bx],0Fh", a => a.and(__word_ptr[bx], 0x0F), "BX=0010 w[ds:0010]=1234", "w[ds:0010]=0004 F=-"),
        C("or eax,ebx (66h)", a => a.or(eax, ebx), "EAX=80000000 EBX=00000001", "EAX=80000001 F=S"),
        C("not ax keeps flags", a => a.not(ax), "AX=00FF F=OC", "AX=FF00 F=OC"),
        C("not byte [bx]", a => a.not(__byte_ptr[bx]), "BX=0010 b[ds:0010]=0F", "b[ds:0010]=F0"));

    public static TheoryData<string> LogicKeys => Keys(Logic);

    [Theory]
    [MemberDataOnEveryEngine(nameof(LogicKeys))]
    public void LogicInstructions(string key, string engine) => CaseRunner.Run(Logic[key], engine);

    // ---- shifts and rotates ----

    public static readonly Dictionary<string, Case> ShiftsAndRotates = Table(
        C("shl ax,1", a => a.shl(ax, 1), "AX=4001", "AX=8002 F=OS"),
        C("shl al,1", a => a.shl(al, 1), "AL=81", "AL=02 F=OC"),
        C("shl ax,4", a => a.shl(ax, 4), "AX=00FF F=C", "AX=0FF0 F=P"),
        C("shl ax,cl with CL=0 changes nothing", a => a.shl(ax, cl), "AX=1234 CL=00 F=OSZAPC", "AX=1234"),
        C("shl ax,cl with CL=32 (masked to 0)", a => a.shl(ax, cl), "AX=1234 CL=20 F=SC", "AX=1234"),
        C("shl ax,16 clears", a => a.shl(ax, 16), "AX=FFFF", "AX=0000 F=ZP"),
        C("shl word [bx],1", a => a.shl(__word_ptr[bx], 1), "BX=0010 w[ds:0010]=8000", "w[ds:0010]=0000 F=OZPC"),
        C("shr ax,1", a => a.shr(ax, 1), "AX=8001", "AX=4000 F=OPC"),
        C("shr al,3", a => a.shr(al, 3), "AL=81", "AL=10 F=-"),
        C("shr ax,15", a => a.shr(ax, 15), "AX=8000", "AX=0001 F=-"),
        C("sar ax,1", a => a.sar(ax, 1), "AX=8001", "AX=C000 F=SPC"),
        C("sar al,7", a => a.sar(al, 7), "AL=80", "AL=FF F=SP"),
        C("sar ax,cl with CL=31", a => a.sar(ax, cl), "AX=8000 CL=1F", "AX=FFFF F=SPC"),
        C("sar ax,1 positive", a => a.sar(ax, 1), "AX=0003 F=O", "AX=0001 F=C"),
        C("rol ax,1", a => a.rol(ax, 1), "AX=8001 F=Z", "AX=0003 F=ZOC"),
        C("rol al,4", a => a.rol(al, 4), "AL=81 F=C", "AL=18 F=-"),
        C("rol al,8 sets CF from bit 0", a => a.rol(al, cl), "AL=81 CL=08", "AL=81 F=C"),
        C("rol ax,cl with CL=0 changes nothing", a => a.rol(ax, cl), "AX=8001 CL=00 F=OSZAPC", "AX=8001"),
        C("ror ax,1", a => a.ror(ax, 1), "AX=0001", "AX=8000 F=OC"),
        C("ror al,3", a => a.ror(al, 3), "AL=01 F=C", "AL=20 F=-"),
        C("rcl ax,1", a => a.rcl(ax, 1), "AX=8000", "AX=0000 F=OC"),
        C("rcl al,1 with CF", a => a.rcl(al, 1), "AL=80 F=C", "AL=01 F=OC"),
        C("rcl al,9 (count mod 9 = 0)", a => a.rcl(al, cl), "AL=01 CL=09", "AL=01 F=-"),
        C("rcl ax,cl with CL=17 (mod 17 = 0)", a => a.rcl(ax, cl), "AX=0001 CL=11 F=C", "AX=0001 F=C"),
        C("rcl al,cl with CL=3", a => a.rcl(al, cl), "AL=A5 CL=03 F=C", "AL=2E F=C"),
        C("rcr ax,1", a => a.rcr(ax, 1), "AX=0001", "AX=0000 F=C"),
        C("rcr al,1 with CF", a => a.rcr(al, 1), "AL=01 F=C", "AL=80 F=OC"),
        C("rcr ax,cl with CL=17 (mod 17 = 0)", a => a.rcr(ax, cl), "AX=0001 CL=11 F=C", "AX=0001 F=C"),
        C("rcr word [bx],1", a => a.rcr(__word_ptr[bx], 1), "BX=0010 w[ds:0010]=8000 F=C", "w[ds:0010]=C000 F=-"),
        C("shld ax,bx,4", a => a.shld(ax, bx, 4), "AX=1234 BX=ABCD", "AX=234A F=C"),
        C("shrd ax,bx,4", a => a.shrd(ax, bx, 4), "AX=1234 BX=ABCD", "AX=D123 F=S"),
        C("shld eax,ebx,cl", a => a.shld(eax, ebx, cl), "EAX=11223344 EBX=AABBCCDD CL=08", "EAX=223344AA F=PC"),
        C("shrd [bx],ax,1", a => a.shrd(__word_ptr[bx], ax, 1), "AX=0001 BX=0010 w[ds:0010]=0002", "w[ds:0010]=8001 F=OS"),
        C("shld ax,bx,0 changes nothing", a => a.shld(ax, bx, 0), "AX=1234 BX=ABCD F=ZC", "AX=1234"));

    public static TheoryData<string> ShiftKeys => Keys(ShiftsAndRotates);

    [Theory]
    [MemberDataOnEveryEngine(nameof(ShiftKeys))]
    public void ShiftAndRotateInstructions(string key, string engine) => CaseRunner.Run(ShiftsAndRotates[key], engine);

    // ---- bit operations ----

    public static readonly Dictionary<string, Case> BitOps = Table(
        C("bt ax,3 keeps ZF", a => a.bt(ax, 3), "AX=0008 F=Z", "F=ZC"),
        C("bts ax,15", a => a.bts(ax, 15), "AX=0000 F=C", "AX=8000 F=-"),
        C("btr ax,cx (offset mod 16)", a => a.btr(ax, cx), "AX=0002 CX=0011", "AX=0000 F=C"),
        C("btc word [bx],0", a => a.btc(__word_ptr[bx], 0), "BX=0010 w[ds:0010]=0001", "w[ds:0010]=0000 F=C"),
        C("bt word [bx],cx: offset -1 is bit 15 of the word below", a => a.bt(__word_ptr[bx], cx), "BX=0010 CX=FFFF w[ds:000E]=8000 w[ds:0010]=0000", "F=C"),
        C("bts word [bx],cx: offset 19 is bit 3 of the next word", a => a.bts(__word_ptr[bx], cx), "BX=0010 CX=0013 w[ds:0010]=0000 w[ds:0012]=0000", "w[ds:0012]=0008 w[ds:0010]=0000 F=-"),
        C("bts word [bx],cx: the word address wraps at 64K", a => a.bts(__word_ptr[bx], cx), "BX=FFFE CX=0010 w[ds:0000]=0000", "w[ds:0000]=0001 F=-"),
        C("bt dword [bx],ecx: offset 32 is the next dword", a => a.bt(__dword_ptr[bx], ecx), "BX=0010 ECX=00000020 d[ds:0014]=00000001", "F=C"),
        C("bsf ax,bx", a => a.bsf(ax, bx), "BX=0100 F=Z", "AX=0008 F=-"),
        C("bsf ax,bx of 0 leaves AX", a => a.bsf(ax, bx), "AX=1234 BX=0000", "AX=1234 F=Z"),
        C("bsr ax,bx", a => a.bsr(ax, bx), "BX=8001", "AX=000F F=-"),
        C("bsr eax,[bx]", a => a.bsr(eax, __dword_ptr[bx]), "BX=0010 d[ds:0010]=00010000", "EAX=00000010 F=-"),
        C("setc al", a => a.setc(al), "AL=55 F=C", "AL=01"),
        C("setz byte [bx]", a => a.setz(__byte_ptr[bx]), "BX=0010 b[ds:0010]=55", "b[ds:0010]=00"),
        C("setl al (SF!=OF)", a => a.setl(al), "F=S", "AL=01"),
        C("setg al", a => a.setg(al), "F=OS", "AL=01"),
        C("setbe ah", a => a.setbe(ah), "F=Z", "AH=01"),
        C("setp cl", a => a.setp(cl), "F=P", "CL=01"),
        C("seto dl", a => a.seto(dl), "F=SZAPC", "DL=00"));

    public static TheoryData<string> BitKeys => Keys(BitOps);

    [Theory]
    [MemberDataOnEveryEngine(nameof(BitKeys))]
    public void BitInstructions(string key, string engine) => CaseRunner.Run(BitOps[key], engine);

    // ---- decimal arithmetic ----

    public static readonly Dictionary<string, Case> Bcd = Table(
        C("daa after 79h+35h", a => a.daa(), "AL=AE", "AL=14 F=APC"),
        C("daa of 9Ah", a => a.daa(), "AL=9A", "AL=00 F=ZAPC"),
        C("daa with AF", a => a.daa(), "AL=12 F=A", "AL=18 F=AP"),
        C("daa with CF", a => a.daa(), "AL=05 F=C", "AL=65 F=PC"),
        C("daa with nothing to do", a => a.daa(), "AL=45", "AL=45 F=-"),
        C("das after 35h-47h", a => a.das(), "AL=EE F=AC", "AL=88 F=SAPC"),
        C("das with nothing to do", a => a.das(), "AL=45", "AL=45 F=-"),
        C("das of low nibble", a => a.das(), "AL=1B", "AL=15 F=A"),
        C("aaa adjusts", a => a.aaa(), "AX=000B", "AX=0101 F=AC"),
        C("aaa carries into AH", a => a.aaa(), "AX=05FA", "AX=0700 F=AC"),
        C("aaa without adjust", a => a.aaa(), "AX=0005 F=C", "AX=0005 F=-"),
        C("aas adjusts", a => a.aas(), "AX=0208 F=A", "AX=0102 F=AC"),
        C("aas without adjust", a => a.aas(), "AX=0308", "AX=0308 F=-"),
        C("aam", a => a.aam(10), "AX=FF3F", "AX=0603 F=P"),
        C("aam 16", a => a.aam(16), "AX=003F", "AX=030F F=P"),
        C("aam of 0", a => a.aam(10), "AX=1200", "AX=0000 F=ZP"),
        C("aad", a => a.aad(10), "AX=0603", "AX=003F F=P"),
        C("aad 16", a => a.aad(16), "AX=0305", "AX=0035 F=P"),
        C("aad wraps AL", a => a.aad(10), "AX=1906", "AX=0000 F=ZP"));

    public static TheoryData<string> BcdKeys => Keys(Bcd);

    [Theory]
    [MemberDataOnEveryEngine(nameof(BcdKeys))]
    public void DecimalInstructions(string key, string engine) => CaseRunner.Run(Bcd[key], engine);

    // ---- strings (16-bit addressing, SI/DI wrap at 64K, CX counts) ----

    private static void Movsb(Assembler a, Register seg = Register.None, int addressSize = 16, RepPrefixKind rep = RepPrefixKind.None) =>
        a.AddInstruction(Instruction.CreateMovsb(addressSize, seg, rep));

    public static readonly Dictionary<string, Case> Strings = Table(
        C("movsb", a => a.movsb(), "SI=0010 DI=0020 b[ds:0010]=AB", "SI=0011 DI=0021 b[es:0020]=AB"),
        C("movsb backwards", a => a.movsb(), "SI=0010 DI=0020 b[ds:0010]=AB F=D", "SI=000F DI=001F b[es:0020]=AB F=D"),
        C("movsw: SI wraps", a => a.movsw(), "SI=FFFE DI=0020 w[ds:FFFE]=1234", "SI=0000 DI=0022 w[es:0020]=1234"),
        C("rep movsw across the SI wrap", a => a.rep.movsw(), "CX=0003 SI=FFFC DI=0100 w[ds:FFFC]=1111 w[ds:FFFE]=2222 w[ds:0000]=3333",
            "CX=0000 SI=0002 DI=0106 w[es:0100]=1111 w[es:0102]=2222 w[es:0104]=3333"),
        C("rep movsb: DI wraps", a => a.rep.movsb(), "CX=0002 SI=0010 DI=FFFF b[ds:0010]=11 b[ds:0011]=22", "CX=0000 SI=0012 DI=0001 b[es:FFFF]=11 b[es:0000]=22"),
        C("rep movsb with CX=0 moves nothing", a => a.rep.movsb(), "CX=0000 SI=0010 DI=0020 b[ds:0010]=22 b[es:0020]=11", "b[es:0020]=11"),
        C("fs: movsb", a => Movsb(a, Register.FS), "SI=0010 DI=0020 b[fs:0010]=CD b[ds:0010]=AB", "SI=0011 DI=0021 b[es:0020]=CD"),
        C("cs: movsb", a => Movsb(a, Register.CS), "SI=0400 DI=0020 b[cs:0400]=EF b[ds:0400]=AB", "SI=0401 DI=0021 b[es:0020]=EF"),
        C("movsb with 32-bit addressing (67h)", a => Movsb(a, addressSize: 32), "ESI=00000010 EDI=00000020 b[ds:0010]=77", "ESI=00000011 EDI=00000021 b[es:0020]=77"),
        C("rep stosw", a => a.rep.stosw(), "CX=0002 AX=BEEF DI=0030", "CX=0000 DI=0034 w[es:0030]=BEEF w[es:0032]=BEEF"),
        C("rep stosb counts CX, not ECX", a => a.rep.stosb(), "ECX=00010000 DI=0040 AL=22 b[es:0040]=11", "b[es:0040]=11"),
        C("rep stosb keeps the upper halves of ECX and EDI", a => a.rep.stosb(), "ECX=ABCD0002 EDI=DEAD0050 AL=22", "ECX=ABCD0000 EDI=DEAD0052 b[es:0050]=22 b[es:0051]=22"),
        C("rep stosb with 32-bit addressing counts ECX", a => a.AddInstruction(Instruction.CreateStosb(32, RepPrefixKind.Repe)), "ECX=00000002 EDI=00000050 AL=22", "ECX=00000000 EDI=00000052 b[es:0050]=22 b[es:0051]=22"),
        C("stosb ignores a segment override", a => { a.db(0x2E); a.stosb(); }, "DI=0060 AL=5A b[cs:0060]=00", "DI=0061 b[es:0060]=5A b[cs:0060]=00"),
        C("lodsw", a => a.lodsw(), "SI=0010 w[ds:0010]=CAFE", "AX=CAFE SI=0012"),
        C("lodsb backwards", a => a.lodsb(), "SI=0010 b[ds:0010]=3C F=D", "AL=3C SI=000F F=D"),
        C("cmpsb equal", a => a.cmpsb(), "SI=0010 DI=0020 b[ds:0010]=05 b[es:0020]=05", "SI=0011 DI=0021 F=ZP"),
        C("repe cmpsb stops at the first mismatch", a => a.repe.cmpsb(),
            "CX=0005 SI=0010 DI=0020 b[ds:0010]=01 b[ds:0011]=02 b[ds:0012]=03 b[es:0020]=01 b[es:0021]=02 b[es:0022]=09",
            "CX=0002 SI=0013 DI=0023 F=SAPC"),
        C("repe cmpsb with CX=0 keeps flags", a => a.repe.cmpsb(), "CX=0000 SI=0010 DI=0020 F=OC", "F=OC"),
        C("repne scasb finds AL", a => a.repne.scasb(), "AL=33 CX=000A DI=0040 b[es:0040]=11 b[es:0041]=22 b[es:0042]=33", "CX=0007 DI=0043 F=ZP"),
        C("repne scasw runs out of CX", a => a.repne.scasw(), "AX=FFFF CX=0002 DI=0050 w[es:0050]=0001 w[es:0052]=0002", "CX=0000 DI=0054 F=S"),
        C("cmpsw backwards", a => a.cmpsw(), "SI=0010 DI=0020 w[ds:0010]=1234 w[es:0020]=1234 F=D", "SI=000E DI=001E F=DZP"));

    public static TheoryData<string> StringKeys => Keys(Strings);

    [Theory]
    [MemberDataOnEveryEngine(nameof(StringKeys))]
    public void StringInstructions(string key, string engine) => CaseRunner.Run(Strings[key], engine);

    // ---- stack (SS.B = 0: SP wraps at 64K) ----

    public static readonly Dictionary<string, Case> Stack = Table(
        C("push ax", a => a.push(ax), "AX=1234", "SP=FFEE w[ss:FFEE]=1234"),
        C("push ax at SP=0 wraps", a => a.push(ax), "AX=1234 SP=0000", "SP=FFFE w[ss:FFFE]=1234"),
        C("pop ax at SP=FFFE wraps", a => a.pop(ax), "SP=FFFE w[ss:FFFE]=5678", "AX=5678 SP=0000"),
        C("push eax (66h)", a => a.push(eax), "EAX=11223344 SP=0004", "SP=0000 d[ss:0000]=11223344"),
        C("pop eax (66h) wraps", a => a.pop(eax), "SP=FFFC d[ss:FFFC]=11223344", "EAX=11223344 SP=0000"),
        C("push imm8 sign-extends", a => a.push(-2), "", "SP=FFEE w[ss:FFEE]=FFFE"),
        C("push word [bx]", a => a.push(__word_ptr[bx]), "BX=0010 w[ds:0010]=4321", "SP=FFEE w[ss:FFEE]=4321"),
        C("pop word [bx]", a => a.pop(__word_ptr[bx]), "BX=0010 w[ss:FFF0]=4321", "SP=FFF2 w[ds:0010]=4321"),
        C("push sp pushes the old SP", a => a.push(sp), "", "SP=FFEE w[ss:FFEE]=FFF0"),
        C("pop sp loads the popped value", a => a.pop(sp), "w[ss:FFF0]=1234", "SP=1234"),
        C("pop esp (66h) loads the popped value", a => a.pop(esp), "d[ss:FFF0]=00005678", "ESP=00005678"),
        C("pusha", a => a.pusha(), "AX=0A0A CX=0C0C DX=0D0D BX=0B0B SP=0010 BP=0B0F SI=051E DI=0D1E",
            "SP=0000 w[ss:000E]=0A0A w[ss:000C]=0C0C w[ss:000A]=0D0D w[ss:0008]=0B0B w[ss:0006]=0010 w[ss:0004]=0B0F w[ss:0002]=051E w[ss:0000]=0D1E"),
        C("pusha wraps below 0", a => a.pusha(), "AX=0A0A CX=0C0C DX=0D0D BX=0B0B SP=0008 BP=0B0F SI=051E DI=0D1E",
            "SP=FFF8 w[ss:0006]=0A0A w[ss:0004]=0C0C w[ss:0002]=0D0D w[ss:0000]=0B0B w[ss:FFFE]=0008 w[ss:FFFC]=0B0F w[ss:FFFA]=051E w[ss:FFF8]=0D1E"),
        C("popa across the wrap, skipping SP", a => a.popa(),
            "SP=FFF8 w[ss:0006]=0A0A w[ss:0004]=0C0C w[ss:0002]=0D0D w[ss:0000]=0B0B w[ss:FFFE]=7777 w[ss:FFFC]=0B0F w[ss:FFFA]=051E w[ss:FFF8]=0D1E",
            "AX=0A0A CX=0C0C DX=0D0D BX=0B0B SP=0008 BP=0B0F SI=051E DI=0D1E"),
        C("pushad (66h)", a => a.pushad(), "EAX=11111111 ESP=00000020 EDI=77777777",
            "SP=0000 d[ss:001C]=11111111 d[ss:000C]=00000020 d[ss:0000]=77777777"),
        C("enter 10h,0", a => a.enter(0x10, 0), "BP=1234", "BP=FFEE SP=FFDE w[ss:FFEE]=1234"),
        C("enter 4,1", a => a.enter(4, 1), "BP=1234", "BP=FFEE SP=FFE8 w[ss:FFEE]=1234 w[ss:FFEC]=FFEE"),
        C("enter 0,2", a => a.enter(0, 2), "BP=FF00 w[ss:FEFE]=AAAA", "BP=FFEE SP=FFEA w[ss:FFEE]=FF00 w[ss:FFEC]=AAAA w[ss:FFEA]=FFEE"),
        C("enter 2,31", a => a.enter(2, 31), Enter31Input(), Enter31Output()),
        C("enter 4,0: SP wraps", a => a.enter(4, 0), "SP=0002 BP=5555", "SP=FFFC BP=0000 w[ss:0000]=5555"),
        C("enter 0,2: BP wraps", a => a.enter(0, 2), "BP=0000 w[ss:FFFE]=BBBB", "BP=FFEE SP=FFEA w[ss:FFEE]=0000 w[ss:FFEC]=BBBB w[ss:FFEA]=FFEE"),
        C("leave", a => a.leave(), "BP=FF00 SP=1234 w[ss:FF00]=4321", "SP=FF02 BP=4321"),
        C("leave: SP wraps", a => a.leave(), "BP=FFFE w[ss:FFFE]=4321", "SP=0000 BP=4321"),
        C("enter then leave", a => { a.enter(8, 1); a.leave(); }, "BP=1234", "BP=1234 SP=FFF0 w[ss:FFEE]=1234"),
        C("push es", a => a.push(es), "", "SP=FFEE w[ss:FFEE]=3000"),
        C("push cs", a => a.push(cs), "", "SP=FFEE w[ss:FFEE]=1000"),
        C("pop es", a => a.pop(es), "w[ss:FFF0]=1234", "ES=1234 SP=FFF2"),
        C("pop ds (66h) takes 4 bytes", a => { a.db(0x66); a.pop(ds); }, "d[ss:FFF0]=ABCD0700", "DS=0700 SP=FFF4"),
        C("push fs (66h) writes the low word, moves SP by 4", a => { a.db(0x66); a.push(fs); }, "w[ss:FFEC]=0000 w[ss:FFEE]=9999", "SP=FFEC w[ss:FFEC]=5000"),
        C("pushf", a => a.pushf(), "F=SZAPC", "SP=FFEE w[ss:FFEE]=00D7"),
        C("popf", a => a.popf(), "w[ss:FFF0]=0ED5", "SP=FFF2 F=OSZAPCDI"),
        C("pushf then popf", a => { a.pushf(); a.popf(); }, "F=OC", "F=OC SP=FFF0"));

    private static string Enter31Input()
    {
        var s = new System.Text.StringBuilder("BP=FF00");
        for (int i = 1; i <= 30; i++) s.Append($" w[ss:{0xFF00 - 2 * i:X4}]={i:X4}");
        return s.ToString();
    }

    private static string Enter31Output()
    {
        // BP pushed at FFEE; 30 frame pointers copied below it; the new frame pointer; 2 bytes reserved.
        var s = new System.Text.StringBuilder("BP=FFEE SP=FFAE w[ss:FFEE]=FF00 w[ss:FFB0]=FFEE");
        for (int i = 1; i <= 30; i++) s.Append($" w[ss:{0xFFEE - 2 * i:X4}]={i:X4}");
        return s.ToString();
    }

    public static TheoryData<string> StackKeys => Keys(Stack);

    [Theory]
    [MemberDataOnEveryEngine(nameof(StackKeys))]
    public void StackInstructions(string key, string engine) => CaseRunner.Run(Stack[key], engine);

    // ---- flags ----

    public static readonly Dictionary<string, Case> FlagInstructions = Table(
        C("clc", a => a.clc(), "F=SZAPC", "F=SZAP"),
        C("stc", a => a.stc(), "F=Z", "F=ZC"),
        C("cmc", a => a.cmc(), "F=C", "F=-"),
        C("cmc after a lazy sub", a => { a.sub(ax, ax); a.cmc(); }, "AX=0001", "AX=0000 F=ZPC"),
        C("cld", a => a.cld(), "F=DC", "F=C"),
        C("std", a => a.std(), "F=C", "F=DC"),
        C("cli", a => a.cli(), "F=I", "F=-"),
        C("sti", a => a.sti(), "F=-", "F=I"),
        C("salc", a => a.db(0xD6), "AL=00 F=C", "AL=FF F=C"));

    public static TheoryData<string> FlagKeys => Keys(FlagInstructions);

    [Theory]
    [MemberDataOnEveryEngine(nameof(FlagKeys))]
    public void FlagControlInstructions(string key, string engine) => CaseRunner.Run(FlagInstructions[key], engine);
}
