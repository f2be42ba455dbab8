/// A time limit in one of the forms Slurm's `--time` accepts.
public enum SlurmTime: Sendable, Equatable, CustomStringConvertible {
    case limited(seconds: Int)
    case unlimited

    public static let acceptedForms =
        "MINUTES, MINUTES:SECONDS, HOURS:MINUTES:SECONDS, DAYS-HOURS, DAYS-HOURS:MINUTES, DAYS-HOURS:MINUTES:SECONDS or UNLIMITED (e.g. 30, 0:30:00, 2-12)"

    /// Parses `text` the way Slurm reads `--time`; anything else is refused with the accepted forms listed.
    public init(parsing text: String) throws(Failure) {
        let refuse = Failure.usage(
            "invalid time limit \(MessageQuoting.quote(text))",
            hint: "use one of Slurm's forms: \(Self.acceptedForms)"
        )
        let trimmed = text
        if ["unlimited", "infinite"].contains(trimmed.lowercased()) {
            self = .unlimited
            return
        }
        let dayParts = trimmed.split(separator: "-", omittingEmptySubsequences: false)
        guard dayParts.count <= 2 else { throw refuse }
        func number(_ part: Substring, below limit: Int? = nil) throws(Failure) -> Int {
            guard !part.isEmpty, part.count <= 9, part.utf8.allSatisfy({ $0 >= 48 && $0 <= 57 }),
                let value = Int(part)
            else { throw refuse }
            if let limit, value >= limit { throw refuse }
            return value
        }
        if dayParts.count == 2 {
            let days = try number(dayParts[0])
            let clock = dayParts[1].split(separator: ":", omittingEmptySubsequences: false)
            guard (1...3).contains(clock.count) else { throw refuse }
            let hours = try number(clock[0], below: 24)
            var minutes = 0
            var seconds = 0
            if clock.count > 1 { minutes = try number(clock[1], below: 60) }
            if clock.count > 2 { seconds = try number(clock[2], below: 60) }
            self = .limited(seconds: ((days * 24 + hours) * 60 + minutes) * 60 + seconds)
        } else {
            let clock = trimmed.split(separator: ":", omittingEmptySubsequences: false)
            switch clock.count {
            case 1:
                self = .limited(seconds: try number(clock[0]) * 60)
            case 2:
                let minutes = try number(clock[0])
                let seconds = try number(clock[1], below: 60)
                self = .limited(seconds: minutes * 60 + seconds)
            case 3:
                let hours = try number(clock[0])
                let minutes = try number(clock[1], below: 60)
                let seconds = try number(clock[2], below: 60)
                self = .limited(seconds: (hours * 60 + minutes) * 60 + seconds)
            default:
                throw refuse
            }
        }
        if case .limited(0) = self {
            throw Failure.usage("time limit \(MessageQuoting.quote(text)) is zero", hint: "give a positive time limit, e.g. 0:30:00")
        }
        if let seconds = self.seconds, seconds > Self.maximumSeconds {
            throw Failure.usage(
                "time limit \(MessageQuoting.quote(text)) is beyond what Slurm can take (at most \(SlurmTime.limited(seconds: Self.maximumSeconds)))",
                hint: "give a shorter limit, or UNLIMITED (the partition's MaxTime applies either way)")
        }
    }

    /// The longest limit sbatch reads correctly. Slurm stores limits in minutes as a uint32, but sbatch
    /// first computes seconds in a signed 32-bit int and rounds up with `(s + 59) / 60` (time_str2secs
    /// and time_str2mins in src/common/parse_time.c); anything longer wraps around to a negative number
    /// (refused by sbatch) or to a short limit. Checked against libslurm 22.05: 24855-03:13:08 gives
    /// 35791394 minutes, 24855-03:13:09 gives -35791394.
    public static let maximumSeconds = Int(Int32.max) - 59

    /// The canonical form Slurm prints, `D-HH:MM:SS` or `HH:MM:SS`.
    public var description: String {
        switch self {
        case .unlimited:
            return "UNLIMITED"
        case .limited(let total):
            let days = total / 86_400
            let hours = (total % 86_400) / 3_600
            let minutes = (total % 3_600) / 60
            let seconds = total % 60
            let clock = [hours, minutes, seconds].map { $0 < 10 ? "0\($0)" : "\($0)" }.joined(separator: ":")
            return days > 0 ? "\(days)-\(clock)" : clock
        }
    }

    public var seconds: Int? {
        if case .limited(let seconds) = self { seconds } else { nil }
    }
}

/// A duration given on the command line: plain seconds or with a unit (`90`, `90s`, `2m`, `1h`).
public enum DurationText {
    public static func seconds(parsing text: String, option: String) throws(Failure) -> Int {
        let units: [(String, Int)] = [("s", 1), ("m", 60), ("h", 3_600)]
        var digits = Substring(text)
        var factor = 1
        for (suffix, multiplier) in units where text.hasSuffix(suffix) {
            digits = text.dropLast(suffix.count)
            factor = multiplier
        }
        guard !digits.isEmpty, digits.utf8.allSatisfy({ $0 >= 48 && $0 <= 57 }), let value = Int(digits), value <= 1_000_000
        else {
            throw Failure.usage(
                "invalid duration \(MessageQuoting.quote(text)) for \(option)",
                hint: "give whole seconds, or a number with s, m or h (e.g. 120, 90s, 2m)")
        }
        return value * factor
    }
}
