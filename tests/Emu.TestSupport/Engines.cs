using System;
using System.Collections.Generic;
using System.Reflection;
using Emu.Translator;
using Emu.X86;
using Xunit;
using Xunit.Sdk;

namespace Emu.TestSupport;

/// <summary>
/// The execution engines every test that runs guest code runs on (issue 3: "every test
/// passes on both engines"). A test names its engine by a string parameter, which the
/// attributes below supply: <c>[Theory, OnEveryEngine]</c> for a test without other data,
/// <c>[Theory, InlineDataOnEveryEngine(...)]</c> and <c>[Theory, MemberDataOnEveryEngine(...)]</c>
/// for data theories. The engine comes last in the parameter list.
/// </summary>
public static class Engines
{
    /// <summary>The reference engine: every instruction through its handler (<see cref="Cpu.Engine"/> null).</summary>
    public const string Interpreter = "interpreter";

    /// <summary>
    /// The translator with threshold 1, compiling on the emulation thread: every block the
    /// cache keeps runs as compiled code from its first entry, so a test exercises the IL,
    /// not the interpreter it starts in.
    /// </summary>
    public const string Translator = "translator";

    public static IReadOnlyList<string> Names { get; } = new[] { Interpreter, Translator };

    /// <summary>A fresh engine of the given name; null for the interpreter (the CPU's default).</summary>
    public static IExecutionEngine? Create(string name) => name switch
    {
        Interpreter => null,
        Translator => new TranslatorEngine(threshold: 1, synchronous: true),
        _ => throw new ArgumentException($"unknown engine '{name}'", nameof(name)),
    };

    /// <summary>
    /// Throws when the engine refused to compile a block: such a block would run in the
    /// interpreter and the test would pass without testing the translator.
    /// </summary>
    public static void CheckHealthy(IExecutionEngine? engine)
    {
        if (engine is TranslatorEngine t && t.Failures != 0)
            throw new InvalidOperationException($"the translator failed to compile {t.Failures} block(s); see the test's output");
    }

    /// <summary>Each row of <paramref name="rows"/> once per engine, the engine name appended.</summary>
    public static IEnumerable<object[]> Cross(IEnumerable<object[]> rows)
    {
        foreach (object[] row in rows)
        {
            foreach (string e in Names)
            {
                var r = new object[row.Length + 1];
                row.CopyTo(r, 0);
                r[^1] = e;
                yield return r;
            }
        }
    }
}

/// <summary>Runs a theory once per engine: the test's only parameter is the engine name.</summary>
[DataDiscoverer("Xunit.Sdk.DataDiscoverer", "xunit.core")]
[AttributeUsage(AttributeTargets.Method, AllowMultiple = false)]
public sealed class OnEveryEngineAttribute : DataAttribute
{
    public override IEnumerable<object[]> GetData(MethodInfo testMethod) => Engines.Cross(new[] { Array.Empty<object>() });
}

/// <summary>Like <see cref="InlineDataAttribute"/>, once per engine: the engine name follows the given values.</summary>
[DataDiscoverer("Xunit.Sdk.DataDiscoverer", "xunit.core")]
[AttributeUsage(AttributeTargets.Method, AllowMultiple = true)]
public sealed class InlineDataOnEveryEngineAttribute : DataAttribute
{
    private readonly object[] data;

    public InlineDataOnEveryEngineAttribute(params object[] data) => this.data = data;

    public override IEnumerable<object[]> GetData(MethodInfo testMethod) => Engines.Cross(new[] { data });
}

/// <summary>Like <see cref="MemberDataAttribute"/>, once per engine: the engine name follows each row's values.</summary>
[DataDiscoverer("Xunit.Sdk.MemberDataDiscoverer", "xunit.core")]
[AttributeUsage(AttributeTargets.Method, AllowMultiple = true)]
public sealed class MemberDataOnEveryEngineAttribute : MemberDataAttributeBase
{
    public MemberDataOnEveryEngineAttribute(string memberName, params object[] parameters) : base(memberName, parameters) { }

    public override IEnumerable<object[]> GetData(MethodInfo testMethod) => Engines.Cross(base.GetData(testMethod));

    protected override object[] ConvertDataItem(MethodInfo testMethod, object item) =>
        item as object[] ?? throw new ArgumentException($"{MemberName} yielded a {item?.GetType().Name ?? "null"}, not an object[]");
}
