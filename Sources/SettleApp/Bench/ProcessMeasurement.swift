import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Wall time and peak resident memory of one child process, measured by the kernel (`wait4`).
struct ProcessMeasurement: Sendable {
    var seconds: Double
    var peakRSSBytes: Int
    var status: Int32

    /// Runs `executable arguments…` under GNU `time` with stdout discarded and stdin closed.
    ///
    /// Linux keeps a process's peak RSS across `exec`, so a child spawned straight from this
    /// (large) process would report at least our own peak. GNU time is small and forks the
    /// measured command itself, so `%M` is the command's own peak.
    static func run(_ executable: String, _ arguments: [String]) throws -> ProcessMeasurement {
        let report = FileManager.default.temporaryDirectory.appendingPathComponent("settle-time-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: report) }
        var m = try spawn("/usr/bin/time", ["-f", "%M", "-o", report, executable] + arguments)
        let text = (try? String(contentsOfFile: report, encoding: .utf8)) ?? ""
        // On failure GNU time writes "Command exited with non-zero status N" before the number.
        if let kilobytes = text.split(whereSeparator: \.isNewline).last.flatMap({ Int($0.trimmingCharacters(in: .whitespaces)) }) {
            m.peakRSSBytes = kilobytes * 1024
        }
        return m
    }

    /// Runs `executable arguments…` directly (for set-up commands whose memory is not measured).
    static func spawn(_ executable: String, _ arguments: [String], stdoutPath: String = "/dev/null") throws -> ProcessMeasurement {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, stdoutPath, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        let argv = ([executable] + arguments).map { strdup($0) } + [nil]
        defer { for p in argv { free(p) } }
        var pid: pid_t = 0
        let start = ContinuousClock.now
        let spawned = posix_spawnp(&pid, executable, &actions, nil, argv, environ)
        guard spawned == 0 else { throw BenchError("cannot start \(executable): errno \(spawned)") }
        var status: Int32 = 0
        var usage = rusage()
        while wait4(pid, &status, 0, &usage) < 0 {
            guard errno == EINTR else { throw BenchError("wait4 failed for \(executable): errno \(errno)") }
        }
        let elapsed = ContinuousClock.now - start
        let exitStatus: Int32 = (status & 0x7f) == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f)
        return ProcessMeasurement(
            seconds: Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18,
            peakRSSBytes: Int(usage.ru_maxrss) * 1024, status: exitStatus)
    }

    /// The median of `repetitions` runs by wall time (each must succeed).
    static func median(_ repetitions: Int, _ executable: String, _ arguments: [String]) throws -> ProcessMeasurement {
        var runs: [ProcessMeasurement] = []
        for _ in 0..<max(1, repetitions) {
            let m = try run(executable, arguments)
            guard m.status == 0 else {
                throw BenchError("\(([executable] + arguments).joined(separator: " ")) exited with status \(m.status)")
            }
            runs.append(m)
        }
        let sorted = runs.sorted { $0.seconds < $1.seconds }
        var middle = sorted[sorted.count / 2]
        middle.peakRSSBytes = runs.map(\.peakRSSBytes).max() ?? middle.peakRSSBytes
        return middle
    }
}

struct BenchError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}
